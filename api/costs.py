"""``/v1/costs`` (the caller's ledger aggregates, grouped by model, provider, tenant, job or day)
and ``/v1/dashboard`` (what the ``/dashboard`` page draws). Both read the same per-attempt cost
records, so they agree with each other and with ``/metrics`` to the cent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select

from api.deps import StateDep, TenantDep
from api.errors import AUTH, responses
from api.schemas import CostRow, Schema
from ledger import aggregates
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
    spend_usd: float
    waste_usd: float
    refunded_usd: float
    uncertain: int
    uncertain_usd: float
    seconds_requested: float
    seconds_accepted: float
    cost_per_accepted_second: float | None
    acceptance_rate: float | None
    refusal_rate: float | None
    fallback_rate: float | None
    render_p50_s: float | None
    render_p95_s: float | None


class PreviewStatsRead(Schema):
    previews: int
    preview_shots: int
    committed_shots: int
    conversion_rate: float | None
    cost_avoided_usd: float
    agreement_scored: int
    agreement_mean: float | None
    agreement_rate: float | None


class CostsReport(Schema):
    tenant: str
    group_by: str
    since: datetime | None
    until: datetime | None
    jobs: int
    settled_usd: float
    reserved_usd: float
    totals: CostGroupRead
    groups: list[CostGroupRead]
    by_model: list[CostRow]
    preview: PreviewStatsRead


class JobCostRead(Schema):
    id: str
    title: str
    tenant: str
    mode: str
    status: str
    created_at: datetime
    shots: int
    spend_usd: float
    seconds_accepted: float
    cost_per_accepted_second: float | None


class HeldAttemptRead(Schema):
    """A create whose outcome is unknown (``submission_unknown``): its reservation is kept and its
    shot waits until it is resolved at ``resolve_url``."""

    attempt_id: int
    job_id: str
    shot: str
    number: int
    provider: str
    model: str
    reserved_usd: float | None
    since: str
    reason: str | None
    resolve_url: str


class DashboardRead(Schema):
    tenant: str
    generated_at: datetime
    totals: CostGroupRead
    by_model: list[CostGroupRead]
    by_day: list[CostGroupRead]
    preview: PreviewStatsRead
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
        jobs = select(Job.id).where(Job.tenant == tenant)
        if since is not None:
            jobs = jobs.where(Job.created_at >= since)
        if until is not None:
            jobs = jobs.where(Job.created_at < until)
        count = session.scalar(select(func.count()).select_from(jobs.subquery())) or 0
        reserved = session.scalar(
            select(func.coalesce(func.sum(Job.reserved_usd), 0.0)).where(Job.id.in_(jobs))
        )
        preview = aggregates.preview_stats(session, flt)
    by_model = [
        CostRow(
            model=g.key,
            provider=g.key.split("/", 1)[0],
            attempts=g.attempts,
            settled_usd=round(g.settled_usd, 6),
        )
        for g in aggregates.group(rows, "model")
    ]
    return {
        "tenant": tenant,
        "group_by": group_by,
        "since": since,
        "until": until,
        "jobs": int(count),
        "settled_usd": round(sum(r.settled_usd or 0.0 for r in rows), 6),
        "reserved_usd": round(float(reserved or 0.0), 6),
        "totals": aggregates.summarise("all", rows).to_dict(),
        "groups": [g.to_dict() for g in aggregates.group(rows, group_by)],
        "by_model": by_model,
        "preview": preview.to_dict(),
    }


def dashboard_data(db_url: str, tenant: str) -> dict[str, Any]:
    refresh_agreements(db_url, tenant)
    flt = CostFilter(tenant=tenant)
    with session_scope(db_url) as session:
        rows = aggregates.load(session, flt)
        preview = aggregates.preview_stats(session, flt)
        latest = aggregates.latest_jobs(session, tenant)
        held = [
            row | {"resolve_url": f"/v1/jobs/{row['job_id']}/attempts/{row['attempt_id']}:resolve"}
            for row in recovery.held_attempts(session, tenant=tenant)
        ]
    return {
        "tenant": tenant,
        "generated_at": datetime.now(UTC),
        "totals": aggregates.summarise("all", rows).to_dict(),
        "by_model": [g.to_dict() for g in aggregates.group(rows, "model")],
        "by_day": [g.to_dict() for g in aggregates.group(rows, "day")],
        "preview": preview.to_dict(),
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
