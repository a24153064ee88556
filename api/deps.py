"""What every route depends on: the app's state, the caller's tenant (auth + rate limit)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api import auth
from api.config import ApiSettings
from api.errors import RateLimitedError, UnauthorizedError
from api.ratelimit import Limiter
from api.urls import Outbound
from api.webhooks import WebhookDispatcher
from pipeline.context import RunContext
from pipeline.runner import JobRunner


@dataclass
class ApiState:
    ctx: RunContext
    runner: JobRunner
    settings: ApiSettings
    outbound: Outbound
    limiter: Limiter
    webhooks: WebhookDispatcher
    running: bool = True

    @property
    def db_url(self) -> str:
        return self.ctx.db_url


def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


StateDep = Annotated[ApiState, Depends(get_state)]
_bearer = HTTPBearer(auto_error=False, description="an API key from `shotline keys create`")


def get_tenant(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The tenant of the caller's key; every request spends one token of that key's rate limit."""
    if credentials is None:
        raise UnauthorizedError("an `Authorization: Bearer KEY` header is required")
    tenant = auth.tenant_for_key(state.db_url, credentials.credentials)
    if tenant is None:
        raise UnauthorizedError("the API key is not valid")
    wait = state.limiter.take(auth.hash_key(credentials.credentials))
    if wait > 0:
        raise RateLimitedError(
            "too many requests for this API key", retry_after_s=max(1, math.ceil(wait))
        )
    request.state.tenant = tenant
    return tenant


TenantDep = Annotated[str, Depends(get_tenant)]
