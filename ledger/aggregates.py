"""Aggregates over the per-attempt cost records, for ``/v1/costs``, ``shotline costs``, the
dashboard and ``/metrics``: spend including waste (what providers charged for attempts whose clip
was not kept, by their billing rules), refunds and the spend resting on undocumented billing rules
(``uncertain``), accepted seconds, cost per accepted second,
acceptance, refusal and fallback counts, p50/p95 render time; grouped by model, provider, tenant,
job or day. Every figure is computed from the same rows, so every view shows the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from foundation.states import ATTEMPT_ACCEPTED, ATTEMPT_FINISHED, AttemptStatus
from store import jobs as job_rows
from store.models import AttemptCost, JobCommit

GroupBy = Literal["model", "provider", "tenant", "job", "day"]
GROUPS: tuple[GroupBy, ...] = ("model", "provider", "tenant", "job", "day")
PRECISION = 6


@dataclass(frozen=True)
class CostFilter:
    tenant: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    job_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class CostGroup:
    """One group's figures. Rates are over finished attempts (gated or failed)."""

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
    seconds_requested: float
    seconds_accepted: float
    render_p50_s: float | None
    render_p95_s: float | None
    settled_usd: float = 0.0
    """The provider charges alone (``spend_usd`` adds judge fees)."""
    refunded_usd: float = 0.0
    """The quotes of attempts that ended without a clip that their providers did not charge."""
    uncertain: int = 0
    """Settled attempts priced by a billing rule the provider does not document (``unknown``)."""
    uncertain_usd: float = 0.0
    """What those attempts settled at: spend that may not be on the provider's invoice."""

    @property
    def cost_per_accepted_second(self) -> float | None:
        return self.spend_usd / self.seconds_accepted if self.seconds_accepted > 0 else None

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
            "spend_usd": _r(self.spend_usd),
            "waste_usd": _r(self.waste_usd),
            "refunded_usd": _r(self.refunded_usd),
            "uncertain": self.uncertain,
            "uncertain_usd": _r(self.uncertain_usd),
            "seconds_requested": _r(self.seconds_requested),
            "seconds_accepted": _r(self.seconds_accepted),
            "cost_per_accepted_second": _r(self.cost_per_accepted_second),
            "acceptance_rate": _r(self.acceptance_rate),
            "refusal_rate": _r(self.refusal_rate),
            "fallback_rate": _r(self.fallback_rate),
            "render_p50_s": _r(self.render_p50_s),
            "render_p95_s": _r(self.render_p95_s),
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, PRECISION)


def spend_of(row: AttemptCost) -> float:
    """What an attempt cost in all: its settled render plus any judge fee."""
    return (row.settled_usd or 0.0) + row.judge_usd


def refund_of(row: AttemptCost) -> float:
    """The part of a clip-less attempt's quote its provider did not charge (0 while unsettled)."""
    if row.settled_usd is None or row.verdict in ATTEMPT_ACCEPTED:
        return 0.0
    return max(0.0, row.quoted_usd - row.settled_usd)


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
        spend_usd=sum(spend_of(r) for r in items),
        waste_usd=sum(spend_of(r) for r in items if r.verdict not in ATTEMPT_ACCEPTED),
        seconds_requested=sum(r.seconds_requested for r in items),
        seconds_accepted=sum(r.seconds_accepted for r in accepted),
        render_p50_s=percentile(renders, 50),
        render_p95_s=percentile(renders, 95),
        settled_usd=sum(r.settled_usd or 0.0 for r in items),
        refunded_usd=sum(refund_of(r) for r in items),
        uncertain=sum(1 for r in items if r.billing_uncertain),
        uncertain_usd=sum(r.settled_usd or 0.0 for r in items if r.billing_uncertain),
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
    query = select(AttemptCost)
    if flt.tenant is not None:
        query = query.where(AttemptCost.tenant == flt.tenant)
    if flt.since is not None:
        query = query.where(AttemptCost.created_at >= flt.since)
    if flt.until is not None:
        query = query.where(AttemptCost.created_at < flt.until)
    if flt.job_ids is not None:
        query = query.where(AttemptCost.job_id.in_(flt.job_ids))
    return list(session.scalars(query.order_by(AttemptCost.created_at, AttemptCost.attempt_id)))


@dataclass(frozen=True)
class PreviewStats:
    """Preview-then-commit over the preview jobs committed in the window."""

    previews: int
    preview_shots: int
    committed_shots: int
    cost_avoided_usd: float
    agreement_scored: int
    agreement_mean: float | None
    agreeing: int

    @property
    def conversion_rate(self) -> float | None:
        return self.committed_shots / self.preview_shots if self.preview_shots else None

    @property
    def agreement_rate(self) -> float | None:
        return self.agreeing / self.agreement_scored if self.agreement_scored else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "previews": self.previews,
            "preview_shots": self.preview_shots,
            "committed_shots": self.committed_shots,
            "conversion_rate": _r(self.conversion_rate),
            "cost_avoided_usd": _r(self.cost_avoided_usd),
            "agreement_scored": self.agreement_scored,
            "agreement_mean": _r(self.agreement_mean),
            "agreement_rate": _r(self.agreement_rate),
        }


AGREEMENT = 0.8
"""A final clip agrees with its preview when their colour similarity is at least this."""


def preview_stats(session: Session, flt: CostFilter) -> PreviewStats:
    """Conversion (committed shots / preview shots), cost avoided (the final quote of previewed
    shots never committed) and preview/final agreement, per committed preview job."""
    query = select(JobCommit).order_by(JobCommit.id)
    if flt.tenant is not None:
        query = query.where(JobCommit.tenant == flt.tenant)
    if flt.since is not None:
        query = query.where(JobCommit.created_at >= flt.since)
    if flt.until is not None:
        query = query.where(JobCommit.created_at < flt.until)
    by_preview: dict[str, list[JobCommit]] = {}
    for row in session.scalars(query):
        by_preview.setdefault(row.preview_job_id, []).append(row)
    shots = committed = 0
    avoided = 0.0
    scores: list[float] = []
    for commits in by_preview.values():
        union = {key for c in commits for key in c.shots}
        every = set(commits[-1].shots) | set(commits[-1].kept)
        shots += len(every)
        committed += len(union & every)
        prices = commits[-1].final_usd_by_shot
        avoided += sum(float(prices.get(key, 0.0)) for key in every - union)
        latest: dict[str, float] = {}
        for c in commits:
            latest |= {k: float(v) for k, v in (c.agreement or {}).items()}
        scores += list(latest.values())
    return PreviewStats(
        previews=len(by_preview),
        preview_shots=shots,
        committed_shots=committed,
        cost_avoided_usd=avoided,
        agreement_scored=len(scores),
        agreement_mean=sum(scores) / len(scores) if scores else None,
        agreeing=sum(1 for s in scores if s >= AGREEMENT),
    )


def latest_jobs(session: Session, tenant: str | None, limit: int = 10) -> list[dict[str, Any]]:
    """The newest (not deleted) jobs with their spend and accepted seconds from the records."""
    jobs = job_rows.list_jobs(session, tenant, limit=limit)
    ids = tuple(j.id for j in jobs)
    per_job = {g.key: g for g in group(load(session, CostFilter(job_ids=ids)), "job")}
    out = []
    for job in jobs:
        figures = per_job.get(job.id)
        out.append(
            {
                "id": job.id,
                "title": job.title,
                "tenant": job.tenant,
                "mode": job.mode,
                "status": job.status,
                "created_at": job.created_at.isoformat(),
                "shots": sum(len(s.get("shots", [])) for s in job.storyboard.get("scenes", [])),
                "spend_usd": _r(figures.spend_usd if figures else 0.0),
                "seconds_accepted": _r(figures.seconds_accepted if figures else 0.0),
                "cost_per_accepted_second": _r(
                    figures.cost_per_accepted_second if figures else None
                ),
            }
        )
    return out
