"""Liveness and readiness (no auth), and the caller's webhook signing secret."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api import auth
from api.deps import StateDep, TenantDep
from api.errors import AUTH, responses
from api.schemas import Health, WebhookSecret
from foundation.settings import Settings
from store.db import session_scope

router = APIRouter(tags=["system"])


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, Any]:
    """Liveness on the event loop itself: it never waits for the thread pool that sync routes and
    database work share, so a saturated pool cannot make a live process look dead."""
    return {"status": "ok", "checks": {"process": "ok"}}


def _database(db_url: str) -> str:
    try:
        with session_scope(db_url) as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the reason is for operators
        return f"unavailable: {type(exc).__name__}"
    return "ok"


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "a dependency is unavailable"}},
)
def readyz(state: StateDep) -> JSONResponse:
    checks = {
        "database": _database(state.db_url),
        "engine": "ok" if state.running else "unavailable: shutting down",
    }
    if state.ctx.settings.engine == "celery" and state.running:
        checks["engine"] = _broker(state.ctx.settings)
    ok = all(value == "ok" for value in checks.values())
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


def _broker(settings: Settings) -> str:
    """Under the Celery engine the API queues its jobs' steps on the broker: ready when it answers
    (it said this process ran the embedded engine, and stayed 503 for good)."""
    from pipeline.celery_app import BrokerUnavailableError, check_broker

    try:
        check_broker(settings)
    except BrokerUnavailableError as exc:
        return f"unavailable: {exc.message}"
    return "ok"


@router.get(
    "/v1/webhooks/secret",
    response_model=WebhookSecret,
    responses=responses(*AUTH),
    tags=["webhooks"],
    summary="The secret that signs this tenant's webhooks (Standard Webhooks, whsec_…)",
)
def webhook_secret(state: StateDep, tenant: TenantDep) -> WebhookSecret:
    return WebhookSecret(secret=auth.webhook_secret(state.db_url, tenant))
