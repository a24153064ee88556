"""Aggregates over the per-attempt cost records, for ``/v1/costs``, ``shotline costs``, the
dashboard and ``/metrics``: spend including waste (what providers charged for attempts whose clip
was not kept, by their billing rules), refunds and the spend resting on undocumented billing rules
(``uncertain``), accepted seconds, cost per accepted second,
acceptance, refusal and fallback counts, p50/p95 render time; grouped by model, provider, tenant,
job or day. The money comes from ``ledger.figures`` (one definition of each figure), as exact
decimals, so every view shows the same numbers and a total is the exact sum of its groups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import numpy as np
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from foundation.money import ZERO, to_json
from foundation.states import ATTEMPT_ACCEPTED, ATTEMPT_FINISHED, AttemptStatus
from ledger import figures
from store import jobs as job_rows
from store.models import AttemptCost

GroupBy = Literal["model", "provider", "tenant", "job", "day"]
GROUPS: tuple[GroupBy, ...] = ("model", "provider", "tenant", "job", "day")
PRECISION = 6


@dataclass(frozen=True)
class CostFilter:
    tenant: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    job_ids: tuple[str, ...] | None = None

    def limit(self, query: Select[Any], tenant: Any, created: Any) -> Select[Any]:
        """``query`` limited to the filter's tenant and dates (``until`` exclusive), given the
        columns that hold them."""
        if self.tenant is not None:
            query = query.where(tenant == self.tenant)
        if self.since is not None:
            query = query.where(created >= self.since)
        if self.until is not None:
            query = query.where(created < self.until)
        return query


@dataclass(frozen=True)
class CostGroup:
    """One group's figures. Rates are over finished attempts (gated or failed); money is exact
    (``Decimal``) and defined in ``ledger.figures``."""

    key: str
    attempts: int
    finished: int
    accepted: int
    rejected: int
    failed: int
    refused: int
    fallbacks: int
    drift_flagged: int
    spend_usd: Decimal
    """``figures.spent``: provider charges plus judge fees, waste included."""
    waste_usd: Decimal
    """``figures.waste``: the spend of attempts that ended without a kept clip."""
    seconds_requested: float
    seconds_accepted: float
    render_p50_s: float | None
    render_p95_s: float | None
    settled_usd: Decimal = ZERO
    """``figures.settled``: the provider charges alone."""
    refunded_usd: Decimal = ZERO
    """``figures.refunded``: quotes of clip-less attempts their providers did not charge."""
    uncertain: int = 0
    """Settled attempts priced by a billing rule the provider does not document (``unknown``)."""
    uncertain_usd: Decimal = ZERO
    """``figures.uncertain``: spend that may not be on the provider's invoice."""
    reserved_usd: Decimal = ZERO
    """``figures.reserved``: what budgets still hold for the group's unsettled attempts."""

    @property
    def cost_per_accepted_second(self) -> Decimal | None:
        if self.seconds_accepted <= 0:
            return None
        return self.spend_usd / Decimal(repr(self.seconds_accepted))

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.finished if self.finished else None

    @property
    def refusal_rate(self) -> float | None:
        return self.refused / self.finished if self.finished else None

    @property
    def fallback_rate(self) -> float | None:
        return self.fallbacks / self.attempts if self.attempts else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: money as numbers of at most six decimals (``foundation.money``)."""
        return {
            "key": self.key,
            "attempts": self.attempts,
            "finished": self.finished,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "failed": self.failed,
            "refused": self.refused,
            "fallbacks": self.fallbacks,
            "drift_flagged": self.drift_flagged,
            "spend_usd": to_json(self.spend_usd),
            "waste_usd": to_json(self.waste_usd),
            "refunded_usd": to_json(self.refunded_usd),
            "uncertain": self.uncertain,
            "uncertain_usd": to_json(self.uncertain_usd),
            "reserved_usd": to_json(self.reserved_usd),
            "seconds_requested": _r(self.seconds_requested),
            "seconds_accepted": _r(self.seconds_accepted),
            "cost_per_accepted_second": to_json(self.cost_per_accepted_second),
            "acceptance_rate": _r(self.acceptance_rate),
            "refusal_rate": _r(self.refusal_rate),
            "fallback_rate": _r(self.fallback_rate),
            "render_p50_s": _r(self.render_p50_s),
            "render_p95_s": _r(self.render_p95_s),
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, PRECISION)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default); None for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


def summarise(key: str, rows: Iterable[AttemptCost]) -> CostGroup:
    items = list(rows)
    renders = [r.render_seconds for r in items if r.render_seconds is not None]
    accepted = [r for r in items if r.verdict in ATTEMPT_ACCEPTED]
    return CostGroup(
        key=key,
        attempts=len(items),
        finished=sum(1 for r in items if r.verdict in ATTEMPT_FINISHED),
        accepted=len(accepted),
        rejected=sum(1 for r in items if r.verdict == AttemptStatus.REJECTED),
        failed=sum(1 for r in items if r.verdict == AttemptStatus.FAILED),
        refused=sum(1 for r in items if r.error_kind == "safety_refusal"),
        fallbacks=sum(1 for r in items if r.fallback),
        drift_flagged=sum(1 for r in items if r.drift_flagged),
        spend_usd=figures.spent(items),
        waste_usd=figures.waste(items),
        seconds_requested=sum(r.seconds_requested for r in items),
        seconds_accepted=sum(r.seconds_accepted for r in accepted),
        render_p50_s=percentile(renders, 50),
        render_p95_s=percentile(renders, 95),
        settled_usd=figures.settled(items),
        refunded_usd=figures.refunded(items),
        uncertain=sum(1 for r in items if r.billing_uncertain),
        uncertain_usd=figures.uncertain(items),
        reserved_usd=figures.reserved(items),
    )


def day_of(row: AttemptCost) -> str:
    created = row.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created.astimezone(UTC).date().isoformat()


KEYS: dict[GroupBy, Callable[[AttemptCost], str]] = {
    "model": lambda r: r.model_id,
    "provider": lambda r: r.provider,
    "tenant": lambda r: r.tenant,
    "job": lambda r: r.job_id,
    "day": day_of,
}


def group(rows: Iterable[AttemptCost], by: GroupBy) -> list[CostGroup]:
    """One ``CostGroup`` per key, sorted by key (days ascend)."""
    buckets: dict[str, list[AttemptCost]] = {}
    for row in rows:
        buckets.setdefault(KEYS[by](row), []).append(row)
    return [summarise(key, buckets[key]) for key in sorted(buckets)]


def load(session: Session, flt: CostFilter) -> list[AttemptCost]:
    """The records matching ``flt`` (``until`` is exclusive), oldest first."""
    query = flt.limit(select(AttemptCost), AttemptCost.tenant, AttemptCost.created_at)
    if flt.job_ids is not None:
        query = query.where(AttemptCost.job_id.in_(flt.job_ids))
    return list(session.scalars(query.order_by(AttemptCost.created_at, AttemptCost.attempt_id)))


def latest_jobs(session: Session, tenant: str | None, limit: int = 10) -> list[dict[str, Any]]:
    """The newest (not deleted) jobs with their own spend and accepted seconds from the records.
    A job that ran on emulated providers is flagged ``emulated`` and its spend, emulated money, is
    repeated in ``emulated_usd``: the real spend of the list is the sum of ``spend_usd -
    emulated_usd``."""
    jobs = job_rows.list_jobs(session, tenant, limit=limit)
    ids = tuple(j.id for j in jobs)
    per_job = {g.key: g for g in group(load(session, CostFilter(job_ids=ids)), "job")}
    out = []
    for job in jobs:
        found = per_job.get(job.id) or summarise(job.id, [])
        emulated = job.providers == "emulated"
        out.append(
            {
                "id": job.id,
                "title": job.title,
                "tenant": job.tenant,
                "mode": job.mode,
                "status": job.status,
                "emulated": emulated,
                "created_at": job.created_at.isoformat(),
                "shots": sum(len(s.get("shots", [])) for s in job.storyboard.get("scenes", [])),
                "spend_usd": to_json(found.spend_usd),
                "emulated_usd": to_json(found.spend_usd if emulated else ZERO),
                "seconds_accepted": _r(found.seconds_accepted),
                "cost_per_accepted_second": to_json(found.cost_per_accepted_second),
            }
        )
    return out
