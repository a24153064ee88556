"""``/v1/costs`` (the caller's ledger aggregates, grouped by model, provider, tenant, job or day)
and ``/v1/dashboard`` (what the ``/dashboard`` page draws). Both take their figures from
``ledger.report`` (money defined once in ``ledger.figures``), so they agree with each other, with
``shotline costs`` and ``budget show`` and with ``/metrics`` exactly. Real money is at the top
level; emulated spend is apart (``emulated_usd`` and the ``emulated`` block)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select

from api.deps import StateDep, TenantDep
from api.errors import AUTH, responses
from api.schemas import CostRow, Schema, Usd
from foundation.money import to_json, total
from ledger import aggregates, figures, report
from ledger.aggregates import CostFilter, GroupBy
from pipeline import recovery
from pipeline.commit_versions import refresh_agreements
from store.db import session_scope
from store.models import Job

router = APIRouter(prefix="/v1", tags=["costs"])


class CostGroupRead(Schema):
    key: str
    attempts: int
    finished: int
    accepted: int
    rejected: int
    failed: int
    refused: int
    fallbacks: int
    drift_flagged: int
    spend_usd: Usd
    waste_usd: Usd
    refunded_usd: Usd
    uncertain: int
    uncertain_usd: Usd
    reserved_usd: Usd
    seconds_requested: float
    seconds_accepted: float
    cost_per_accepted_second: Usd | None
    acceptance_rate: float | None
    refusal_rate: float | None
    fallback_rate: float | None
    render_p50_s: float | None
    render_p95_s: float | None


class PreviewStatsRead(Schema):
    previews: int
    preview_shots: int
    committed_shots: int
    declined_shots: int
    conversion_rate: float | None
    cost_avoided_usd: Usd
    agreement_scored: int
    agreement_mean: float | None
    agreement_rate: float | None


class Headline(Schema):
    """The four figures of ``ledger.figures``: spent, reserved, waste and avoided."""

    spent_usd: Usd
    reserved_usd: Usd
    waste_usd: Usd
    avoided_usd: Usd


class DraftModelRead(Schema):
    model: str
    drafts: int
    valid: int
    rounds: int
    input_tokens: int
    output_tokens: int
    spend_usd: Usd
    uncertain: bool


class DraftCostsRead(Schema):
    """Storyboard drafts (``POST /v1/storyboards:draft``): spend outside any job, by model."""

    drafts: int
    spend_usd: Usd
    by_model: list[DraftModelRead]


class EmulatedCosts(Headline):
    """The same figures for the attempts that ran on emulated providers: no money was spent."""

    totals: CostGroupRead
    groups: list[CostGroupRead]
    preview: PreviewStatsRead
    drafts: DraftCostsRead


class CostsReport(Headline):
    tenant: str
    group_by: str
    since: datetime | None
    until: datetime | None
    jobs: int
    settled_usd: Usd
    totals: CostGroupRead
    groups: list[CostGroupRead]
    by_model: list[CostRow]
    preview: PreviewStatsRead
    drafts: DraftCostsRead
    emulated_usd: Usd
    emulated: EmulatedCosts


class JobCostRead(Schema):
    id: str
    title: str
    tenant: str
    mode: str
    status: str
    emulated: bool
    created_at: datetime
    shots: int
    spend_usd: Usd
    emulated_usd: Usd
    seconds_accepted: float
    cost_per_accepted_second: Usd | None


class HeldAttemptRead(Schema):
    """A create whose outcome is unknown (``submission_unknown``): its reservation is kept and its
    shot waits until it is resolved at ``resolve_url``."""

    attempt_id: int
    job_id: str
    shot: str
    number: int
    provider: str
    model: str
    reserved_usd: Usd | None
    since: str
    reason: str | None
    resolve_url: str


class EmulatedDashboard(Headline):
    """The dashboard's figures for the attempts that ran on emulated providers."""

    totals: CostGroupRead
    by_model: list[CostGroupRead]
    by_day: list[CostGroupRead]
    preview: PreviewStatsRead


class DashboardRead(Headline):
    tenant: str
    generated_at: datetime
    totals: CostGroupRead
    by_model: list[CostGroupRead]
    by_day: list[CostGroupRead]
    preview: PreviewStatsRead
    emulated_usd: Usd
    emulated: EmulatedDashboard
    latest_jobs: list[JobCostRead]
    held_attempts: list[HeldAttemptRead]


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def cost_report(
    db_url: str, tenant: str, group_by: GroupBy, since: datetime | None, until: datetime | None
) -> dict[str, Any]:
    refresh_agreements(db_url, tenant)
    flt = CostFilter(tenant=tenant, since=since, until=until)
    with session_scope(db_url) as session:
        rows = aggregates.load(session, flt)
        view = report.cost_view(session, flt, {"groups": group_by}, rows=rows)
        real = aggregates.group(figures.split(rows)[0], "model")
        by_model = [
            CostRow(
                model=g.key,
                provider=g.key.split("/", 1)[0],
                attempts=g.attempts,
                settled_usd=float(g.settled_usd),
            )
            for g in real
        ]
        jobs = select(Job.id).where(Job.tenant == tenant)
        if since is not None:
            jobs = jobs.where(Job.created_at >= since)
        if until is not None:
            jobs = jobs.where(Job.created_at < until)
        count = session.scalar(select(func.count()).select_from(jobs.subquery())) or 0
    return view | {
        "tenant": tenant,
        "group_by": group_by,
        "since": since,
        "until": until,
        "jobs": int(count),
        "settled_usd": to_json(total(g.settled_usd for g in real)),
        "by_model": by_model,
    }


def dashboard_data(db_url: str, tenant: str) -> dict[str, Any]:
    refresh_agreements(db_url, tenant)
    flt = CostFilter(tenant=tenant)
    with session_scope(db_url) as session:
        view = report.cost_view(session, flt, {"by_model": "model", "by_day": "day"})
        latest = aggregates.latest_jobs(session, tenant)
        held = [
            row | {"resolve_url": f"/v1/jobs/{row['job_id']}/attempts/{row['attempt_id']}:resolve"}
            for row in recovery.held_attempts(session, tenant=tenant)
        ]
    return view | {
        "tenant": tenant,
        "generated_at": datetime.now(UTC),
        "latest_jobs": latest,
        "held_attempts": held,
    }


FromQuery = Annotated[
    datetime | None,
    Query(alias="from", description="attempts created at or after (ISO date or date-time, UTC)"),
]
ToQuery = Annotated[
    datetime | None, Query(alias="to", description="attempts created before (exclusive)")
]


@router.get("/costs", response_model=CostsReport, responses=responses(*AUTH, 422))
async def costs(
    state: StateDep,
    tenant: TenantDep,
    group_by: Annotated[GroupBy, Query(description="how rows are grouped")] = "model",
    since: FromQuery = None,
    until: ToQuery = None,
) -> dict[str, Any]:
    """Spend including waste, accepted seconds, cost per accepted second, acceptance, refusal and
    fallback rates and p50/p95 render time of the caller's attempts, plus preview-then-commit."""
    return await run_in_threadpool(
        cost_report, state.db_url, tenant, group_by, _utc(since), _utc(until)
    )


@router.get("/dashboard", response_model=DashboardRead, responses=responses(*AUTH))
async def dashboard(state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    """The figures the ``/dashboard`` page draws, for the caller's tenant."""
    return await run_in_threadpool(dashboard_data, state.db_url, tenant)
