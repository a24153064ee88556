"""What the finals of a preview's commits take from the preview's budget, one definition for the
commit's quote (``pipeline.commit_budget``) and every reservation against the preview
(``ledger.service.reserve``): a final spends from the budget of the storyboard it was committed
from. An unfinished final holds the whole budget it was given, less what it spent; an ended one
only what it still reserves (a held ``submission_unknown`` create)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import aliased

from foundation.states import JOB_UNFINISHED
from store.models import Job, JobCommit


def finals_use(preview_id: Any) -> tuple[ColumnElement[float], ColumnElement[float]]:
    """Scalar subqueries: what the finals of ``preview_id`` (a value or a column) spent, and what
    they hold."""
    final = aliased(Job)
    left = final.budget_usd - final.spent_usd
    unfinished = final.status.in_([str(s) for s in JOB_UNFINISHED]) & final.budget_usd.is_not(None)
    held = case(
        (unfinished & (left > final.reserved_usd), left),
        else_=final.reserved_usd,
    )
    of_preview = JobCommit.preview_job_id == preview_id

    def total(amount: Any) -> ColumnElement[float]:
        found = (
            select(func.coalesce(func.sum(amount), 0.0))
            .select_from(final)
            .join(JobCommit, JobCommit.final_job_id == final.id)
            .where(of_preview)
        )
        return found.scalar_subquery()

    return total(final.spent_usd), total(held)
