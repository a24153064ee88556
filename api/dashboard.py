"""``/metrics``: Prometheus text, computed from the ledger at scrape time, for the operator only
(it sums every tenant's spend, so it answers a bearer token equal to ``SHOTLINE_API_METRICS_TOKEN``
and is absent when none is set). The ``/dashboard`` page is served by ``api.pages``."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from api.deps import StateDep
from api.errors import UnauthorizedError, responses
from foundation.errors import NotFoundError
from ledger.metrics import LedgerCollector

router = APIRouter(tags=["dashboard"])


def _registry(request: Request, state: StateDep) -> CollectorRegistry:
    registry: CollectorRegistry | None = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        models = tuple(spec.id for spec in state.ctx.registry.models)
        registry.register(LedgerCollector(state.db_url, state.ctx.health, models))
        request.app.state.metrics_registry = registry
    return registry


_operator = HTTPBearer(auto_error=False, description="the operator's `SHOTLINE_API_METRICS_TOKEN`")


def require_operator(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_operator)],
) -> None:
    """Admit only the operator token: 404 when none is configured, 401 for any other caller
    (tenant API keys included)."""
    token = state.settings.metrics_token
    if token is None:
        raise NotFoundError("/metrics is not enabled (set SHOTLINE_API_METRICS_TOKEN)")
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise UnauthorizedError("an `Authorization: Bearer OPERATOR_TOKEN` header is required")


@router.get(
    "/metrics",
    response_class=Response,
    responses=responses(401, 404),
    dependencies=[Depends(require_operator)],
    summary="Prometheus metrics: spend, accepted seconds, outcomes, verdicts, timings, breakers",
)
def metrics(request: Request, state: StateDep) -> Response:
    body = generate_latest(_registry(request, state))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
