"""What a preview's budget has given out: the preview's own spend and holds, and its earlier
commits' finals', so that no commit is offered what an earlier one took."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from foundation import money
from foundation.states import JOB_UNFINISHED
from store.models import Job, JobCommit


def budget_use(session: Session, job: Job) -> tuple[float, float]:
    """What the preview and its earlier commits' finals took from its budget: (spent, held)."""
    finals_spent, finals_held = _finals_use(session, job.id)
    return job.spent_usd + finals_spent, job.reserved_usd + finals_held


def _finals_use(session: Session, preview_id: str) -> tuple[float, float]:
    """What the finals of the preview's earlier commits took from its budget: (spent, held).
    An unfinished final holds the whole budget it was given, less what it spent; an ended one
    only what it still reserves (a held ``submission_unknown`` create)."""
    finals = session.scalars(
        select(Job).join(JobCommit, JobCommit.final_job_id == Job.id)
        .where(JobCommit.preview_job_id == preview_id)
    )  # fmt: skip
    spent, held = money.ZERO, money.ZERO
    for final in finals:
        spent += money.usd(final.spent_usd)
        if final.status in JOB_UNFINISHED and final.budget_usd is not None:
            left = money.usd(final.budget_usd) - money.usd(final.spent_usd)
            held += max(money.usd(final.reserved_usd), left)
        else:
            held += money.usd(final.reserved_usd)
    return money.stored(spent), money.stored(held)
