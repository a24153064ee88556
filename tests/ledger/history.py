"""One seeded money history, booked through the ledger's own functions (reserve, settle, judge fees)
so that the admission counters and the cost records move together as they do in a run.

Two tenants (``acme``, an API tenant, and ``local``, the CLI's), real and emulated jobs, accepted,
rejected, failed and refused attempts (waste), judge fees of a tenth of a cent, a reservation still
held by a running job, prices whose float products drift (``0.28 * 7``, ``0.1 + 0.2``), and
preview commits with shots approved, declined on review, and kept without review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from foundation.states import AttemptStatus
from ledger import service as ledger
from store.db import session_scope
from store.models import Attempt, Job, JobCommit, Shot

A = AttemptStatus


@dataclass(frozen=True)
class Try:
    """One attempt: its quote, what settles (None: still held), its status, judge fee."""

    model: str
    quote: float
    status: str
    settle: float | None = None
    judge: float = 0.0
    error_kind: str | None = None
    seconds: float = 4.0


@dataclass(frozen=True)
class Seeded:
    job: str
    tenant: str
    mode: str
    providers: str
    shots: dict[str, list[Try]]
    status: str = "delivered"
    budget: float | None = None
    committed: dict[str, Any] = field(default_factory=dict)


def _board(shots: dict[str, list[Try]]) -> dict[str, Any]:
    return {
        "scenes": [
            {"id": "s", "shots": [{"id": k, "duration": t[0].seconds} for k, t in shots.items()]}
        ]
    }


def _attempts(session: Any, job: Seeded) -> None:
    for position, (key, tries) in enumerate(job.shots.items()):
        shot = Shot(job_id=job.job, key=key, scene_id="s", position=position, status="normalised")
        session.add(shot)
        session.flush()
        for number, t in enumerate(tries, start=1):
            attempt = Attempt(
                shot_id=shot.id,
                number=number,
                model_id=t.model,
                provider=t.model.split("/", 1)[0],
                quoted_usd=t.quote,
                request={"duration_s": t.seconds},
            )
            session.add(attempt)
            session.flush()
            assert ledger.reserve(session, job.job, attempt), f"{job.job}/{key} fits"
            session.flush()  # as the pipeline commits the reservation before it submits
            if t.settle is None:
                attempt.status = A.SUBMISSION_UNKNOWN
                continue
            attempt.status, attempt.error_kind = t.status, t.error_kind
            ledger.settle(session, job.job, attempt, t.settle)
            if t.judge:
                ledger.book(session, job.job, attempt, "judge", t.judge)
            session.flush()


def seed(db_url: str, jobs: list[Seeded]) -> None:
    for job in jobs:
        with session_scope(db_url) as session:
            session.add(
                Job(
                    id=job.job,
                    tenant=job.tenant,
                    title=job.job,
                    mode=job.mode,
                    providers=job.providers,
                    status=job.status,
                    storyboard=_board(job.shots),
                    budget_usd=job.budget,
                )
            )
            session.flush()
            _attempts(session, job)
            if job.committed:
                session.add(JobCommit(final_job_id=job.job, tenant=job.tenant, **job.committed))


def _commit(preview: str, approved: list[str], kept: list[str], rejected: list[str]) -> Any:
    prices = {"p1": 2.24, "p2": 1.9600000000000002, "p3": 3.3333333}  # final expected costs
    return {
        "preview_job_id": preview,
        "shots": approved,
        "kept": kept,
        "rejected": rejected,
        "quote": {},
        "final_usd_by_shot": prices,
    }


VEO, KLING, RUNWAY = "google/veo-3.1", "kling/v3-pro", "runway/gen4.5"
OK, NO, FAIL = A.ACCEPTED, A.REJECTED, A.FAILED
PREVIEW = {k: [Try(RUNWAY, 0.24, OK, 0.24, 0.0012, seconds=2)] for k in ("p1", "p2", "p3")}

HISTORY = [
    Seeded(
        "acme-final",
        "acme",
        "final",
        "live",
        {
            "a": [Try(VEO, 1.6, NO, 1.6, 0.0012), Try(VEO, 1.6, OK, 1.6, 0.0012)],
            "b": [
                Try(KLING, 0.56, FAIL, 0.0, error_kind="safety_refusal"),
                Try(KLING, 0.28 * 7, FAIL, 0.28 * 7, error_kind="provider_failure"),
                Try(KLING, 0.28 * 7, OK, 0.28 * 7, 0.0012, seconds=7),
            ],
        },
    ),
    Seeded("acme-preview", "acme", "preview", "live", PREVIEW),
    # reviewed: p1 approved, p2 declined; p3 kept at preview without a review
    Seeded(
        "acme-final-1",
        "acme",
        "final",
        "live",
        {"p1": [Try(VEO, 0.8, OK, 0.8, 0.0012, seconds=2)]},
        committed=_commit("acme-preview", ["p1"], ["p2", "p3"], ["p2"]),
    ),
    Seeded(
        "acme-running",
        "acme",
        "final",
        "live",
        {"h": [Try(RUNWAY, 0.75, A.SUBMISSION_UNKNOWN, None)]},
        status="running",
        budget=5.0,
    ),
    Seeded(
        "acme-emulated",
        "acme",
        "final",
        "emulated",
        {"e": [Try(RUNWAY, 0.36, NO, 0.36, 0.0012), Try(RUNWAY, 0.36, OK, 0.36, 0.0012)]},
    ),
    Seeded("acme-emulated-preview", "acme", "preview", "emulated", PREVIEW),
    # an emulated commit: its avoided cost is emulated money too
    Seeded(
        "acme-emulated-final",
        "acme",
        "final",
        "emulated",
        {"p3": [Try(VEO, 0.8, OK, 0.8, seconds=2)]},
        committed=_commit("acme-emulated-preview", ["p3"], ["p1", "p2"], ["p1"]),
    ),
    Seeded(
        "local-real",
        "local",
        "final",
        "auto",
        {"l": [Try(VEO, 0.1, OK, 0.1), Try(VEO, 0.2, OK, 0.2)]},
    ),
    Seeded(
        "local-emulated",
        "local",
        "final",
        "emulated",
        {"m": [Try(RUNWAY, 0.36, NO, 0.36), Try(RUNWAY, 1.98, OK, 1.98)]},
    ),
]

D = Decimal
EXPECTED = {
    # spent: every settled charge plus judge fees; waste: attempts that ended without a clip
    "acme": {
        "spent_usd": D("1.6") * 2 + D("1.96") * 2 + D("0.24") * 3 + D("0.8") + D("0.0012") * 7,
        "reserved_usd": D("0.75"),
        "waste_usd": D("1.6012") + D("1.96"),
        "avoided_usd": D("1.96"),
        "emulated_usd": D("0.36") * 2 + D("0.24") * 3 + D("0.8") + D("0.0012") * 5,
        "emulated_avoided_usd": D("2.24"),
    },
    "local": {
        "spent_usd": D("0.3"),
        "reserved_usd": D("0"),
        "waste_usd": D("0"),
        "avoided_usd": D("0"),
        "emulated_usd": D("2.34"),
        "emulated_avoided_usd": D("0"),
    },
}
"""The figures of each tenant, worked out by hand."""
