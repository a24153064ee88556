"""What the ``/dashboard`` page draws, for one viewer and one set of filters (dates, model,
provider, tenant): totals, per-model figures, spend over time, waste by cause, jobs, jobs in
flight, budgets and held creates. Money comes from the ledger's aggregates only: real money at the
top level, the same figures for emulated attempts under ``emulated``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import views
from foundation import money
from foundation.states import JOB_UNFINISHED, SHOT_HAS_CLIP, SHOT_NO_MORE_ATTEMPTS
from ledger import aggregates, figures, previews, report, series, tenants
from ledger.aggregates import CostFilter
from pipeline import recovery
from pipeline.commit_versions import refresh_agreements
from store.db import session_scope
from store.models import AttemptCost, Job, JobApi, Shot

JOBS_SHOWN = 50


@dataclass(frozen=True)
class Filters:
    tenant: str | None = None
    """None: every tenant (the operator only)."""
    since: datetime | None = None
    until: datetime | None = None
    model: str | None = None
    provider: str | None = None
    bucket: series.Bucket | None = None
    """None: chosen by the range."""

    def costs(self) -> CostFilter:
        return CostFilter(tenant=self.tenant, since=self.since, until=self.until)


def _visible_jobs(tenant: str | None) -> Any:
    query = select(Job).outerjoin(JobApi, JobApi.job_id == Job.id)
    query = query.where(JobApi.deleted_at.is_(None))
    return query if tenant is None else query.where(Job.tenant == tenant)


def _job_row(job: Job, found: aggregates.CostGroup | None) -> dict[str, Any]:
    """One job's own figures (emulated money when it ran emulated: ``emulated_usd`` repeats its
    spend then, so a list's real spend is the sum of ``spend_usd - emulated_usd``)."""
    figures_ = (found or aggregates.summarise(job.id, [])).to_dict()
    emulated = job.providers == "emulated"
    return views.job_header(job) | {
        "spend_usd": figures_["spend_usd"],
        "emulated_usd": figures_["spend_usd"] if emulated else 0.0,
        "waste_usd": figures_["waste_usd"],
        "seconds_accepted": figures_["seconds_accepted"],
        "cost_per_accepted_second": figures_["cost_per_accepted_second"],
        "attempts": figures_["attempts"],
    }


def jobs_list(session: Session, flt: Filters, rows: list[AttemptCost]) -> list[dict[str, Any]]:
    """The newest jobs in the window (of the filtered model/provider: those with its attempts)."""
    query = _visible_jobs(flt.tenant)
    if flt.since is not None:
        query = query.where(Job.created_at >= flt.since)
    if flt.until is not None:
        query = query.where(Job.created_at < flt.until)
    if flt.model is not None or flt.provider is not None:
        query = query.where(Job.id.in_(sorted({r.job_id for r in rows})))
    found = session.scalars(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(JOBS_SHOWN))
    jobs = list(found)
    ids = tuple(j.id for j in jobs)
    mine = aggregates.load(session, CostFilter(job_ids=ids))
    per_job = {g.key: g for g in aggregates.group(mine, "job")}
    return [_job_row(job, per_job.get(job.id)) for job in jobs]


def in_flight(session: Session, tenant: str | None) -> list[dict[str, Any]]:
    """Jobs planned or running now (whatever the date filter), with progress and budget left
    (budget - spent - reserved, as ``/metrics`` counts it)."""
    jobs = list(
        session.scalars(
            _visible_jobs(tenant).where(Job.status.in_(JOB_UNFINISHED)).order_by(Job.created_at)
        )
    )
    ids = tuple(j.id for j in jobs)
    shots: dict[str, list[str]] = {}
    for job_id, status in session.execute(
        select(Shot.job_id, Shot.status).where(Shot.job_id.in_(ids))
    ):
        shots.setdefault(job_id, []).append(status)
    per_job = {
        g.key: g for g in aggregates.group(aggregates.load(session, CostFilter(job_ids=ids)), "job")
    }
    out = []
    for job in jobs:
        states = shots.get(job.id, [])
        row = _job_row(job, per_job.get(job.id))
        left = (
            None
            if job.budget_usd is None
            else money.usd(job.budget_usd) - money.usd(job.spent_usd) - money.usd(job.reserved_usd)
        )
        out.append(
            row
            | {
                "shots": len(states),
                "shots_done": sum(1 for s in states if s in SHOT_NO_MORE_ATTEMPTS),
                "shots_with_clip": sum(1 for s in states if s in SHOT_HAS_CLIP),
                "budget_usd": money.to_json(job.budget_usd),
                "reserved_usd": money.to_json(job.reserved_usd),
                "headroom_usd": money.to_json(left),
            }
        )
    return out


def budgets(session: Session, tenant: str | None) -> list[dict[str, Any]]:
    """Tenant budgets as ``shotline budget show`` reads them (``ledger.tenants.budgets``)."""
    return [b for b in tenants.budgets(session) if tenant is None or b["tenant"] == tenant]


def _choices(session: Session, tenant: str | None) -> dict[str, list[str]]:
    every = aggregates.load(session, CostFilter(tenant=tenant))
    tenants = {r.tenant for r in every}
    if tenant is None:
        tenants |= set(session.scalars(select(Job.tenant).distinct()))
    return {
        "models": sorted({r.model_id for r in every}),
        "providers": sorted({r.provider for r in every}),
        "tenants": sorted(tenants) if tenant is None else [tenant],
    }


def _held(session: Session, tenant: str | None) -> list[dict[str, Any]]:
    return [
        row | {"resolve_url": f"/v1/jobs/{row['job_id']}/attempts/{row['attempt_id']}:resolve"}
        for row in recovery.held_attempts(session, tenant=tenant)
    ]


def _breakdown(
    rows: list[AttemptCost], flt: Filters, preview: previews.PreviewStats
) -> dict[str, Any]:
    """The headline of ``rows`` with its breakdowns (``insights.Breakdown``): for real money at
    the top level, and for the attempts on emulated providers apart (no money was spent; the page
    draws them, marked, for a viewer who has only emulated runs)."""
    size, buckets = series.series(rows, flt.since, flt.until, flt.bucket)
    return report.headline(rows, preview) | {
        "totals": aggregates.summarise("all", rows).to_dict(),
        "by_model": [g.to_dict() for g in aggregates.group(rows, "model")],
        "by_provider": [g.to_dict() for g in aggregates.group(rows, "provider")],
        "bucket": size,
        "series": [g.to_dict() for g in buckets],
        "waste_by_cause": [g.to_dict() for g in series.waste_by_cause(rows)],
        "preview": preview.to_dict(),
    }


def overview(db_url: str, flt: Filters, *, operator: bool) -> dict[str, Any]:
    refresh_agreements(db_url, flt.tenant)
    with session_scope(db_url) as session:
        loaded = series.matching(
            aggregates.load(session, flt.costs()), model=flt.model, provider=flt.provider
        )
        rows, emulated = figures.split(loaded)  # emulated spend is shown apart
        preview = previews.preview_stats(session, flt.costs())
        emulated_preview = previews.preview_stats(session, flt.costs(), emulated=True)
        data = {
            "tenant": flt.tenant,
            "operator": operator,
            "generated_at": datetime.now(UTC),
            "filters": {
                "tenant": flt.tenant,
                "from": flt.since,
                "to": flt.until,
                "model": flt.model,
                "provider": flt.provider,
            },
            "choices": _choices(session, flt.tenant),
            **_breakdown(rows, flt, preview),
            "emulated_usd": money.to_json(figures.spent(emulated)),
            "emulated": _breakdown(emulated, flt, emulated_preview),
            "jobs": jobs_list(session, flt, loaded),
            "in_flight": in_flight(session, flt.tenant),
            "budgets": budgets(session, flt.tenant),
            "held_attempts": _held(session, flt.tenant),
        }
    return data
