"""The ledger's journal as tests read it: an oracle beside the cost records production reports."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import LedgerEntry


def journal_total(session: Session, job_id: str) -> float:
    """What the journal booked for a job's attempts: its ``settle`` and ``judge`` entries. An
    independent sum to hold the reported figures (``ledger.figures``) against."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_usd), 0.0)).where(
            LedgerEntry.job_id == job_id, LedgerEntry.kind.in_(("settle", "judge"))
        )
    )
    return float(total or 0.0)
