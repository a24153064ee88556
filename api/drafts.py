"""``POST /v1/storyboards:draft``: brief to storyboard for the caller's tenant.

The same drafting as ``shotline draft`` (``pipeline.draft``): a routed llm model writes the
storyboard with structured output, the storyboard validator checks it, at most two repair rounds
follow, and the cost is booked on the tenant (``ledger.drafts``; not as spend when the API runs on
emulated providers). A body that is not a brief, no configured language model, or a draft still
invalid after the repairs answer 422 with the problems; a draft on real providers that the
tenant's budget cannot pay for answers 402 ``budget_exceeded`` before any request is sent.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import ConfigDict, Field

from api.deps import ApiState, StateDep, TenantDep
from api.errors import AUTH, responses
from api.schemas import Schema
from foundation.errors import InvalidInputError, Problem
from foundation.limits import BRIEF_MAX_CHARS, STYLE_MAX_CHARS

router = APIRouter(prefix="/v1", tags=["storyboards"])


class DraftCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    brief: str = Field(
        min_length=1, max_length=BRIEF_MAX_CHARS, description="what the video is about"
    )
    shots: int | None = Field(default=None, ge=1, le=50, description="number of shots")
    duration: float | None = Field(default=None, ge=1, le=60, description="seconds per shot")
    style: str | None = Field(default=None, max_length=STYLE_MAX_CHARS, description="visual style")
    model: str | None = Field(
        default=None, max_length=200, description="llm model id (registry) to try first"
    )


class DraftRead(Schema):
    storyboard: dict[str, Any]
    yaml: str
    model: str | None
    cost_usd: float
    cost_uncertain: bool
    route: str
    rounds: list[dict[str, Any]]


def _draft(state: ApiState, tenant: str, body: DraftCreate) -> dict[str, Any]:
    import yaml

    from pipeline.draft import DraftBrief, board_data
    from pipeline.draft_run import chat_clients, run_draft

    ctx = state.ctx
    urls = ctx.judge_base_urls if ctx.emulated and ctx.judge_base_urls else None
    clients = chat_clients(ctx.settings, urls)
    if not clients:
        problem = Problem("model", "no language model provider is configured on this server")
        raise InvalidInputError("cannot draft", [problem])
    if body.model is not None and body.model not in ctx.registry:
        problem = Problem("model", f"{body.model!r} is not in the registry")
        raise InvalidInputError("unknown model", [problem])
    request = DraftBrief(body.brief, body.shots, body.duration, body.style)
    result = run_draft(
        request,
        ctx.settings,
        ctx.registry,
        clients,
        emulated=ctx.emulated,
        tenant=tenant,
        pin=body.model,
    )
    assert result.board is not None
    data = board_data(result.board)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return {"storyboard": data, "yaml": text, **result.to_dict()}


@router.post("/storyboards:draft", response_model=DraftRead, responses=responses(*AUTH, 402, 422))
async def draft_storyboard(state: StateDep, tenant: TenantDep, body: DraftCreate) -> Any:
    """Draft a storyboard from a brief with a routed language model; its cost is booked."""
    return await run_in_threadpool(_draft, state, tenant, body)
