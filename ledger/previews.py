"""Preview-then-commit figures over the commits of preview jobs: conversion, shots declined on
review, the cost avoided (``figures.avoided``) and the preview/final agreement.

A commit belongs to the emulated figures when its final job ran on the emulated providers (the
avoided cost is the money its final render would have cost), to the real figures otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from foundation.money import to_json, total
from ledger import figures
from ledger.aggregates import CostFilter
from store.models import Job, JobCommit

AGREEMENT = 0.8
"""A final clip agrees with its preview when their colour similarity is at least this."""


@dataclass(frozen=True)
class PreviewStats:
    """Preview-then-commit over the preview jobs committed in the window."""

    previews: int
    preview_shots: int
    committed_shots: int
    cost_avoided_usd: Decimal
    agreement_scored: int
    agreement_mean: float | None
    agreeing: int
    declined_shots: int = 0
    """Shots a reviewer declined at final (``figures.declined``): those the avoided cost counts."""

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
            "declined_shots": self.declined_shots,
            "conversion_rate": _r(self.conversion_rate),
            "cost_avoided_usd": to_json(self.cost_avoided_usd),
            "agreement_scored": self.agreement_scored,
            "agreement_mean": _r(self.agreement_mean),
            "agreement_rate": _r(self.agreement_rate),
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def commits_by_preview(
    session: Session, flt: CostFilter, *, emulated: bool = False
) -> dict[str, list[JobCommit]]:
    """The commits made in the window, per preview job (oldest first), of real or of emulated
    final jobs."""
    query = (
        select(JobCommit)
        .join(Job, Job.id == JobCommit.final_job_id)
        .where((Job.providers == "emulated") if emulated else (Job.providers != "emulated"))
        .order_by(JobCommit.id)
    )
    query = flt.limit(query, JobCommit.tenant, JobCommit.created_at)
    by_preview: dict[str, list[JobCommit]] = {}
    for row in session.scalars(query):
        by_preview.setdefault(row.preview_job_id, []).append(row)
    return by_preview


def preview_stats(session: Session, flt: CostFilter, *, emulated: bool = False) -> PreviewStats:
    """Conversion (committed shots / preview shots), the shots declined on review, the cost
    avoided (``figures.avoided``) and preview/final agreement, per committed preview job."""
    by_preview = commits_by_preview(session, flt, emulated=emulated)
    shots = committed = declined = 0
    scores: list[float] = []
    for commits in by_preview.values():
        union = {key for c in commits for key in c.shots}
        every = set(commits[-1].shots) | set(commits[-1].kept)
        shots += len(every)
        committed += len(union & every)
        declined += len(figures.declined(commits))
        latest: dict[str, float] = {}
        for c in commits:
            latest |= {k: float(v) for k, v in (c.agreement or {}).items()}
        scores += list(latest.values())
    return PreviewStats(
        previews=len(by_preview),
        preview_shots=shots,
        committed_shots=committed,
        cost_avoided_usd=total(figures.avoided(commits) for commits in by_preview.values()),
        agreement_scored=len(scores),
        agreement_mean=sum(scores) / len(scores) if scores else None,
        agreeing=sum(1 for s in scores if s >= AGREEMENT),
        declined_shots=declined,
    )
