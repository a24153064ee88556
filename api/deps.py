"""What every route depends on: the app's state, the caller's tenant (auth + rate limit)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import Scope

from api import auth
from api.config import ApiSettings
from api.errors import RateLimitedError, UnauthorizedError
from api.jwks import FalKeys
from api.ratelimit import Limiter
from api.urls import Outbound
from api.webhooks import WebhookDispatcher
from foundation.errors import InvalidInputError, Problem
from foundation.validation import NUL_REASON
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
    auth_failures: Limiter
    """Failed authentications per client address: spent when a key is unknown, looked at before
    every key lookup."""
    running: bool = True
    fal_keys: FalKeys = field(default_factory=FalKeys)
    """fal's webhook signing keys, cached (failures briefly)."""

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
    tenant = authenticate(state, request.scope, credentials.credentials)
    wait = state.limiter.take(auth.hash_key(credentials.credentials))
    if wait > 0:
        raise RateLimitedError("too many requests for this API key", _retry_after(wait))
    request.state.tenant = tenant
    return tenant


TenantDep = Annotated[str, Depends(get_tenant)]


def refuse_nul(request: Request) -> None:
    """Every route's first dependency: a path or query parameter holding a NUL (``%00``) is a 422
    naming it, before any lookup (PostgreSQL refuses U+0000 in any text it is sent)."""
    params = [*request.path_params.items(), *request.query_params.multi_items()]
    problems = [Problem(name, NUL_REASON) for name, value in params if "\x00" in f"{name}{value}"]
    if problems:
        raise InvalidInputError("the request is invalid", problems)


_LOOKED_UP = "shotline.key_lookup"


def _retry_after(wait: float) -> int:
    """Whole seconds for ``Retry-After`` (a bucket that never refills says a day)."""
    return max(1, math.ceil(min(wait, 86_400.0)))


def known_tenant(state: ApiState, scope: Scope, key: str) -> str | None:
    """The tenant of ``key``, or None when it is unknown or the client may not try keys now."""
    try:
        return authenticate(state, scope, key)
    except (UnauthorizedError, RateLimitedError):
        return None


def authenticate(state: ApiState, scope: Scope, key: str) -> str:
    """The tenant of ``key``. A client address that has used up its failed-authentication budget
    gets a 429 before any database lookup; an unknown key is a 401 that spends one unit of it.
    A request looks its key up once (the idempotency middleware and the route share the answer).
    """
    memo = scope.setdefault("state", {})
    looked_up = memo.get(_LOOKED_UP)
    if looked_up is not None and looked_up[0] == key:
        tenant: str | None = looked_up[1]
    else:
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        wait = state.auth_failures.take(address, cost=0)
        if wait > 0:
            raise RateLimitedError(
                "too many failed authentications from this address", _retry_after(wait)
            )
        tenant = auth.tenant_for_key(state.db_url, key)
        memo[_LOOKED_UP] = (key, tenant)
        if tenant is None:
            state.auth_failures.take(address)
    if tenant is None:
        raise UnauthorizedError("the API key is not valid")
    return tenant
