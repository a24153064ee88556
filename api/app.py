"""The FastAPI application: ``create_app`` wires settings, the job runner, outbound requests,
webhooks, middleware, error handlers and routes (all under ``/v1``, plus ``/healthz``, ``/readyz``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from api import (
    catalog,
    commit,
    costs,
    dashboard,
    docs,
    drafts,
    errors,
    files,
    insights,
    jobs,
    pages,
    provider_hooks,
    stream,
    system,
    videos,
)
from api.config import ApiSettings, load_api_settings
from api.deps import ApiState, known_tenant, refuse_nul
from api.errors import ErrorBody
from api.middleware import BodyLimitMiddleware, IdempotencyMiddleware, SecurityHeadersMiddleware
from api.ratelimit import build_limiter
from api.schemas import JobCreate, VideoCreate
from api.urls import Outbound, UrlPolicy
from api.webhooks import WebhookDispatcher
from foundation.storyboard import Storyboard
from pipeline.context import RunContext
from pipeline.runner import JobRunner

DESCRIPTION = """Storyboard jobs, live events (SSE), signed webhooks, tenants and keys, and an
OpenAI-compatible video facade. Authenticate with `Authorization: Bearer KEY`; every POST accepts
an `Idempotency-Key`. Errors share one shape: `ErrorBody`."""


def build_state(ctx: RunContext, runner: JobRunner | None, settings: ApiSettings) -> ApiState:
    policy = UrlPolicy(frozenset(settings.http_hosts), frozenset(settings.private_hosts))
    outbound = Outbound(
        policy,
        max_redirects=settings.max_redirects,
        timeout_s=settings.fetch_timeout_s,
        deadline_s=settings.fetch_deadline_s,
        max_fetches=settings.max_fetches,
        max_fetches_per_tenant=settings.max_fetches_per_tenant,
    )
    return ApiState(
        ctx=ctx,
        runner=runner or JobRunner(ctx),
        settings=settings,
        outbound=outbound,
        limiter=build_limiter(
            settings, ctx.settings, "keys", settings.rate_per_minute, settings.rate_burst
        ),
        webhooks=WebhookDispatcher(ctx.db_url, outbound, settings),
        auth_failures=build_limiter(
            settings,
            ctx.settings,
            "auth-failures",
            settings.auth_failures_per_minute,
            settings.auth_failure_burst,
        ),
    )


def _schemas(*models: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, value in _schemas(Storyboard, JobCreate, VideoCreate, ErrorBody).items():
            components.setdefault(name, value)
        components["JobCreate"]["properties"]["storyboard"] = {
            "anyOf": [
                {"$ref": "#/components/schemas/Storyboard"},
                {"type": "string", "description": "the storyboard as YAML or JSON text"},
            ]
        }
        app.openapi_schema = schema
    return app.openapi_schema


# the modules whose ``router`` the app serves, in the order the docs list them
ROUTED = (system, jobs, commit, stream, files, catalog, costs, drafts, dashboard, insights, pages,
          videos, provider_hooks)  # fmt: skip


def create_app(
    ctx: RunContext | None = None,
    runner: JobRunner | None = None,
    *,
    settings: ApiSettings | None = None,
) -> FastAPI:
    """The API over ``ctx`` (default: settings' database, local providers). A runner passed in
    belongs to the caller; one created here is shut down with the app."""
    ctx = ctx or RunContext.create()
    state = build_state(ctx, runner, settings or load_api_settings())
    owns_runner = runner is None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = state.settings.request_threads
        state.webhooks.start(tail_rows=state.ctx.settings.engine == "celery")
        state.running = True
        try:
            yield
        finally:
            state.running = False
            state.webhooks.stop()
            if owns_runner:
                state.runner.shutdown()

    app = FastAPI(
        title="shotline",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(refuse_nul)],
    )
    app.state.api = state
    errors.install(app)
    app.add_middleware(
        IdempotencyMiddleware,
        db_url=lambda: state.db_url,
        tenant_of=lambda scope, key: known_tenant(state, scope, key),
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=state.settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    for module in ROUTED:
        app.include_router(module.router)
    docs.install(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
