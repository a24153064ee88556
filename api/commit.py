"""Preview-then-commit over HTTP: the itemised final quote of a preview, the commit of approved
shots (a final job that starts at once), and both versions of a committed job with their diff."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import Field

from api import views
from api.deps import StateDep, TenantDep
from api.errors import AUTH, JobConflictError, responses
from api.schemas import Schema, Usd
from foundation.errors import ConflictError
from pipeline import commit as commit_service
from pipeline.commit_versions import versions as job_versions

router = APIRouter(prefix="/v1", tags=["jobs"])


class CommitCreate(Schema):
    shots: list[str] | None = Field(
        default=None, max_length=500, description="ids of the approved shots (all when omitted)"
    )
    rejected: list[str] | None = Field(
        default=None,
        max_length=500,
        description="ids of shots reviewed and declined at final: they keep their preview and "
        "their final price counts as cost avoided (unapproved shots not listed here were not "
        "reviewed and count nothing)",
    )


class QuoteSegmentRead(Schema):
    shot_id: str
    model: str
    provider: str
    tier: str
    seconds: float
    quote_usd: Usd
    expected_attempts: float
    expected_usd: Usd
    high_usd: Usd
    first_frame: bool


class QuoteLineRead(QuoteSegmentRead):
    segments: list[QuoteSegmentRead] = Field(
        default_factory=list,
        description="for a shot no final model renders in one clip: the segments the final "
        "renders it in, one after another (each from the one before); the line is their sum",
    )


class StageLineRead(Schema):
    stage: str = Field(description="tts, sheet, keyframe or music")
    owner: str = Field(description="the shot, the character, or (job) for the music bed")
    model: str
    quote_usd: Usd = Field(description="the stage's quote; 0 when the final reuses a stored output")
    reused: bool
    saved_usd: Usd = Field(description="what reusing the stored output saves")


class QuoteRead(Schema):
    job_id: str
    shots: list[QuoteLineRead]
    stages: list[StageLineRead] = Field(
        description="the other stages the final runs and pays for: tts lines, character sheets, "
        "keyframes, the music bed; the totals count them"
    )
    stages_usd: Usd
    low_usd: Usd
    expected_usd: Usd
    high_usd: Usd
    budget_usd: Usd | None
    spent_usd: Usd
    remaining_usd: Usd | None
    fits: bool


class CommitRead(Schema):
    preview_job_id: str
    final_job_id: str
    shots: list[str]
    kept: list[str]
    rejected: list[str]
    quote: QuoteRead
    links: dict[str, str]


class VersionsRead(Schema):
    preview_job_id: str
    final_job_id: str
    commits: list[dict[str, Any]]
    preview: dict[str, Any]
    final: dict[str, Any]
    quote: dict[str, Any]
    agreement: dict[str, float] | None
    shots: list[dict[str, Any]]


ShotsQuery = Annotated[
    list[str] | None, Query(max_length=500, description="approved shot ids (all when omitted)")
]


@router.get(
    "/jobs/{job_id}/quote",
    response_model=QuoteRead,
    responses=responses(*AUTH, 404, 409, 422),
    summary="The itemised final-render quote of a preview (per shot: model, price, retakes)",
)
def quote(job_id: str, state: StateDep, tenant: TenantDep, shots: ShotsQuery = None) -> Any:
    views.check_owned(state.db_url, tenant, job_id)
    try:
        return commit_service.quote(state.ctx, job_id, shots).to_dict()
    except ConflictError as exc:
        raise JobConflictError(exc.message, job=job_id) from None


def _commit(
    state: Any, job_id: str, shots: list[str] | None, rejected: list[str] | None
) -> dict[str, Any]:
    try:
        result = commit_service.commit(state.ctx, job_id, shots, rejected)
    except ConflictError as exc:
        raise JobConflictError(exc.message, job=job_id) from None
    state.runner.submit(result.final_job_id)
    base = f"/v1/jobs/{result.final_job_id}"
    return result.to_dict() | {
        "links": {"final": base, "preview": f"/v1/jobs/{job_id}", "versions": f"{base}/versions"}
    }


@router.post(
    "/jobs/{job_id}/commit",
    status_code=202,
    response_model=CommitRead,
    responses=responses(*AUTH, 402, 404, 409, 413, 422),
    summary="Render the approved shots of a delivered preview at final; the rest keep the preview",
)
async def commit(
    job_id: str, state: StateDep, tenant: TenantDep, body: CommitCreate | None = None
) -> JSONResponse:
    await run_in_threadpool(views.check_owned, state.db_url, tenant, job_id)
    shots = body.shots if body is not None else None
    rejected = body.rejected if body is not None else None
    result = await run_in_threadpool(_commit, state, job_id, shots, rejected)
    content = CommitRead.model_validate(result).model_dump(mode="json")
    headers = {"Location": result["links"]["final"]}
    return JSONResponse(content, status_code=202, headers=headers)


@router.get(
    "/jobs/{job_id}/versions",
    response_model=VersionsRead,
    responses=responses(*AUTH, 404, 422),
    summary="Both versions of a committed job (preview and final), shot by shot, with the diff",
)
def versions(job_id: str, state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    views.check_owned(state.db_url, tenant, job_id)
    found = job_versions(state.db_url, job_id)
    for side in ("preview", "final"):
        job = found[side]
        output = job.pop("output_path", None)
        job["output_url"] = f"/v1/jobs/{job['id']}/output" if output else None
    result: dict[str, Any] = views.without_paths(found)
    return result
