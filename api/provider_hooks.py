"""Incoming provider webhooks: ``POST /v1/providers/{provider}/webhook``.

The signature is the authentication (Standard Webhooks HMAC for Replicate, Gemini and
OpenAI-shaped gateways; ED25519 with the provider's JWKS for fal). A verified delivery is recorded as
an event on the attempt it concerns and wakes that attempt's poller; the poll then reads the
provider's state as usual, so a forged or lost webhook can never change a result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import or_, select

from adapters.webhooks import WebhookVerificationError, verify_fal, verify_standard
from api.deps import ApiState, StateDep
from api.errors import responses
from foundation.errors import NotFoundError
from pipeline import events
from store.db import session_scope
from store.models import Attempt, Shot

router = APIRouter(prefix="/v1/providers", tags=["provider webhooks"])
WebhookProvider = Literal["replicate", "google", "openai", "fal"]
STANDARD = {"replicate": "replicate_webhook_secret", "google": "gemini_webhook_secret",
            "openai": "openai_webhook_secret"}  # fmt: skip


def job_id_of(provider: str, payload: dict[str, Any]) -> str | None:
    """The provider job id a delivery is about (the shapes each provider sends)."""
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    for candidate in (payload.get("request_id"), payload.get("name"), payload.get("id"),
                      (payload.get("operation") or {}).get("name") if isinstance(payload.get("operation"), dict) else None,
                      data.get("id") if isinstance(data, dict) else None):  # fmt: skip
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


class _KeysNeeded(Exception):
    """The delivery's headers check out; only a key can tell the rest."""


def _keys_needed() -> Iterator[Any]:
    raise _KeysNeeded
    yield  # a generator: raises only when ``verify_fal`` first asks for a key


async def verify(provider: str, state: ApiState, headers: dict[str, str], body: bytes) -> None:
    """Raise ``WebhookVerificationError`` unless the delivery is signed. fal's keys are fetched
    only once the delivery's headers check out (unsigned noise costs no request), off the event
    loop and through a cache that also remembers failures for a while."""
    settings = state.ctx.settings
    if provider == "fal":
        try:
            verify_fal(headers, body, _keys_needed())
        except _KeysNeeded:
            verify_fal(headers, body, await state.fal_keys.get(settings.fal_jwks_url))
        return
    field = STANDARD.get(provider)
    secret = getattr(settings, field) if field else None
    if secret is None:
        raise WebhookVerificationError(f"no webhook secret is configured for {provider}")
    verify_standard(secret.get_secret_value(), headers, body)


@router.post(
    "/{provider}/webhook",
    status_code=204,
    responses=responses(401, 404, 422),
    summary="Receive a provider's signed webhook; wakes the attempt's poller",
)
async def receive(provider: WebhookProvider, request: Request, state: StateDep) -> Response:
    body = await request.body()
    await verify(provider, state, dict(request.headers), body)
    try:
        payload = json.loads(body)
    except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError)
        payload = {}
    provider_job = job_id_of(provider, payload) if isinstance(payload, dict) else None
    if provider_job is None or "\x00" in provider_job:  # PostgreSQL refuses a NUL in a query
        raise NotFoundError("the webhook names no job")
    attempt_id, job_id = await run_in_threadpool(_record, state.db_url, provider, provider_job)
    await run_in_threadpool(state.runner.wake, attempt_id, job_id)
    return Response(status_code=204)


def _record(db_url: str, provider: str, provider_job: str) -> tuple[int, str]:
    with session_scope(db_url) as session:
        attempt = session.scalars(
            select(Attempt).where(
                Attempt.provider == provider,
                or_(Attempt.provider_job_id == provider_job,
                    Attempt.provider_job_id.endswith(f"/requests/{provider_job}",
                                                     autoescape=True)),
            )
        ).first()  # fmt: skip
        if attempt is None:
            raise NotFoundError(f"no attempt waits for {provider} job {provider_job}")
        shot = session.get_one(Shot, attempt.shot_id)
        events.emit(session, shot.job_id, "attempt.webhook", shot.key, attempt=attempt.number)
        return attempt.id, attempt.provider_job_id or provider_job
