"""What a preview's budget has given out: the preview's own spend and holds, and its earlier
commits' finals' (``ledger.finals``), so that no commit is offered what an earlier one took."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from foundation import money
from ledger.finals import finals_use
from store.models import Job


def budget_use(session: Session, job: Job) -> tuple[float, float]:
    """What the preview and its earlier commits' finals took from its budget: (spent, held)."""
    spent, held = finals_use(job.id)
    found = session.execute(select(spent, held)).one()
    return (
        money.stored(money.usd(job.spent_usd) + money.usd(found[0])),
        money.stored(money.usd(job.reserved_usd) + money.usd(found[1])),
    )
