"""The dashboard's data: ``/v1/dashboard/overview`` (filtered by dates, model, provider and
tenant), ``/v1/dashboard/jobs/{id}`` (the drill-down of one job) and the thumbnails and clips the
drill-down and the review page show. A tenant's key sees its own jobs; the operator's metrics
token sees every tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api import drilldown
from api.costs import (
    CostGroupRead,
    FromQuery,
    Headline,
    HeldAttemptRead,
    PreviewStatsRead,
    ToQuery,
)
from api.deps import StateDep
from api.errors import AUTH, responses
from api.files import RangeFileResponse, binary
from api.overview import Filters, overview
from api.schemas import Schema, Usd
from api.viewer import ViewerDep
from ledger.series import Bucket

router = APIRouter(prefix="/v1", tags=["dashboard"])
VIEWER = (*AUTH, 403)


class JobRowRead(Schema):
    id: str
    title: str
    tenant: str
    mode: str
    status: str
    stage: str
    providers: str
    emulated: bool
    created_at: str
    spend_usd: Usd
    """The job's own spend: emulated money when ``emulated`` (then also in ``emulated_usd``)."""
    emulated_usd: Usd
    waste_usd: Usd
    seconds_accepted: float
    cost_per_accepted_second: Usd | None
    attempts: int


class InFlightRead(JobRowRead):
    shots: int
    shots_done: int
    shots_with_clip: int
    budget_usd: Usd | None
    reserved_usd: Usd
    headroom_usd: Usd | None


class BudgetRead(Schema):
    """As ``shotline budget show``: the ledger's real figures, emulated spend apart."""

    tenant: str
    budget_usd: Usd
    reserved_usd: Usd
    spent_usd: Usd
    headroom_usd: Usd
    emulated_usd: Usd


class Breakdown(Headline):
    """The headline figures with their breakdowns: by model, provider, time and waste cause."""

    totals: CostGroupRead
    by_model: list[CostGroupRead]
    by_provider: list[CostGroupRead]
    bucket: str
    series: list[CostGroupRead]
    waste_by_cause: list[CostGroupRead]
    preview: PreviewStatsRead


class EmulatedOverview(Breakdown):
    """The same figures for the attempts on emulated providers: no money was spent."""


class OverviewRead(Breakdown):
    """Real money at the top level (``Headline``: ``ledger.figures``), emulated apart."""

    tenant: str | None
    operator: bool
    generated_at: datetime
    filters: dict[str, Any]
    choices: dict[str, list[str]]
    emulated_usd: Usd
    emulated: EmulatedOverview
    jobs: list[JobRowRead]
    in_flight: list[InFlightRead]
    budgets: list[BudgetRead]
    held_attempts: list[HeldAttemptRead]


class AttemptDetail(Schema):
    id: int
    number: int
    model: str
    provider: str
    status: str
    fallback: bool
    action: str | None
    score: float | None
    drivers: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    notes: list[str]
    error_kind: str | None
    error: str | None
    render_seconds: float | None
    quoted_usd: Usd
    spend_usd: Usd
    waste_usd: Usd
    billing_uncertain: bool
    created_at: str
    clip_url: str | None
    thumb_url: str | None


class ShotDetail(Schema):
    id: str
    scene: str
    prompt: str
    seconds: float
    status: str
    model: str | None
    action: str | None
    findings: list[dict[str, Any]]
    error: str | None
    kept_from_preview: bool
    figures: CostGroupRead
    clip_url: str | None
    thumb_url: str | None
    attempts: list[AttemptDetail]


class JobDetail(Schema):
    id: str
    title: str
    tenant: str
    mode: str
    status: str
    stage: str
    providers: str
    emulated: bool
    error: str | None
    created_at: str
    budget_usd: Usd | None
    totals: CostGroupRead
    commits: dict[str, Any]
    links: dict[str, str]
    shots: list[ShotDetail]


def _utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


@router.get(
    "/dashboard/overview",
    response_model=OverviewRead,
    responses=responses(*VIEWER, 422),
    summary="The dashboard's figures, filtered by dates, model, provider and tenant",
)
async def dashboard_overview(
    state: StateDep,
    viewer: ViewerDep,
    since: FromQuery = None,
    until: ToQuery = None,
    model: Annotated[str | None, Query(max_length=100, description="one model id")] = None,
    provider: Annotated[str | None, Query(max_length=32, description="one provider")] = None,
    tenant: Annotated[
        str | None, Query(max_length=64, description="one tenant (the operator token only)")
    ] = None,
    bucket: Annotated[
        Bucket | None, Query(description="spend-over-time bucket (default: chosen by range)")
    ] = None,
) -> dict[str, Any]:
    """Totals, per-model and per-provider figures, spend and cost per accepted second over
    time (hourly up to two days, daily up to three months, weekly beyond), waste by cause
    (first defect, else error kind), jobs, jobs in flight, budget headroom and held creates."""
    flt = Filters(
        tenant=viewer.scope(tenant),
        since=_utc(since),
        until=_utc(until),
        model=model,
        provider=provider,
        bucket=bucket,
    )
    return await run_in_threadpool(overview, state.db_url, flt, operator=viewer.operator)


@router.get(
    "/dashboard/jobs/{job_id}",
    response_model=JobDetail,
    responses=responses(*AUTH, 404, 422),
    summary="One job for the drill-down: shots, attempts, verdicts, findings, costs, clips",
)
def dashboard_job(job_id: str, state: StateDep, viewer: ViewerDep) -> dict[str, Any]:
    viewer.job(state.db_url, job_id)
    return drilldown.job_detail(state.db_url, job_id)


JPEG = binary("image/jpeg")
CACHE = {"Cache-Control": "private, max-age=300", "Vary": "Authorization"}
"""A thumbnail is its tenant's: a browser that changes keys asks again, not its cache."""


@router.get(
    "/jobs/{job_id}/shots/{shot_id}/thumb",
    response_class=Response,
    responses=JPEG,
    summary="A thumbnail (the middle frame, JPEG) of a shot's accepted clip",
)
def shot_thumb(job_id: str, shot_id: str, state: StateDep, viewer: ViewerDep) -> Response:
    viewer.job(state.db_url, job_id)
    clip = drilldown.shot_clip(state.ctx, job_id, shot_id)
    return Response(drilldown.thumbnail(clip), media_type="image/jpeg", headers=CACHE)


@router.get(
    "/jobs/{job_id}/attempts/{attempt_id}/clip",
    response_class=RangeFileResponse,
    responses=binary("video/mp4", ranged=True),
    summary="The clip one attempt fetched (kept or not), as the provider delivered it",
)
def attempt_clip(
    job_id: str, attempt_id: int, state: StateDep, viewer: ViewerDep
) -> RangeFileResponse:
    viewer.job(state.db_url, job_id)
    path = drilldown.attempt_clip(state.ctx, job_id, attempt_id)
    return RangeFileResponse(path, media_type="video/mp4", filename=f"{job_id}-{attempt_id}.mp4")


@router.get(
    "/jobs/{job_id}/attempts/{attempt_id}/thumb",
    response_class=Response,
    responses=JPEG,
    summary="A thumbnail (the middle frame, JPEG) of the clip one attempt fetched",
)
def attempt_thumb(job_id: str, attempt_id: int, state: StateDep, viewer: ViewerDep) -> Response:
    viewer.job(state.db_url, job_id)
    clip = drilldown.attempt_clip(state.ctx, job_id, attempt_id)
    return Response(drilldown.thumbnail(clip), media_type="image/jpeg", headers=CACHE)
