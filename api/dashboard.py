"""``/dashboard`` (the built-in cost page: one HTML file with inline CSS and JS, no external
request, allowed only its own inline code by its Content-Security-Policy) and ``/metrics``
(Prometheus text, computed from the ledger at scrape time)."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from api.deps import StateDep
from ledger.metrics import LedgerCollector

router = APIRouter(tags=["dashboard"])


@cache
def page() -> tuple[str, str]:
    """The dashboard HTML and its Content-Security-Policy (hashes of its inline script/style)."""
    html = resources.files("api.static").joinpath("dashboard.html").read_text(encoding="utf-8")
    hashes = {
        tag: [
            "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
            for body in re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)
        ]
        for tag in ("script", "style")
    }
    policy = (
        f"default-src 'none'; script-src {' '.join(hashes['script'])}; "
        f"style-src {' '.join(hashes['style'])}; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return html, policy


@router.get("/dashboard", response_class=HTMLResponse, summary="The built-in cost dashboard")
def dashboard() -> HTMLResponse:
    html, policy = page()
    headers = {
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }
    return HTMLResponse(html, headers=headers)


def _registry(request: Request, state: StateDep) -> CollectorRegistry:
    registry: CollectorRegistry | None = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        models = tuple(spec.id for spec in state.ctx.registry.models)
        registry.register(LedgerCollector(state.db_url, state.ctx.health, models))
        request.app.state.metrics_registry = registry
    return registry


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics: spend, accepted seconds, outcomes, verdicts, timings, breakers",
)
def metrics(request: Request, state: StateDep) -> Response:
    body = generate_latest(_registry(request, state))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
