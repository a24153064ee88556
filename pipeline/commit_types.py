"""What a preview-then-commit returns: the itemised quote of a final render and a commit's result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from foundation import money
from router import QuoteLine


@dataclass(frozen=True)
class Quote:
    """The itemised quote for committing some shots of a preview, against its job's budget."""

    job_id: str
    lines: tuple[QuoteLine, ...]
    budget_usd: float | None
    spent_usd: float
    reserved_usd: float

    @property
    def low_usd(self) -> float:
        """The exact sum of the lines' prices (``foundation.money``), as every total here."""
        return money.stored(money.total(line.quote_usd for line in self.lines))

    @property
    def expected_usd(self) -> float:
        return money.stored(money.total(line.expected_usd for line in self.lines))

    @property
    def high_usd(self) -> float:
        return money.stored(money.total(line.high_usd for line in self.lines))

    @property
    def remaining_usd(self) -> float | None:
        if self.budget_usd is None:
            return None
        left = money.usd(self.budget_usd) - money.usd(self.spent_usd) - money.usd(self.reserved_usd)
        return money.stored(max(money.ZERO, left))

    @property
    def fits(self) -> bool:
        """The expected cost (retakes included) fits what the budget has left."""
        remaining = self.remaining_usd
        return remaining is None or self.expected_usd <= remaining + 1e-9

    def to_dict(self) -> dict[str, Any]:
        remaining = self.remaining_usd
        return {
            "job_id": self.job_id,
            "shots": [line.to_dict() for line in self.lines],
            "low_usd": money.to_json(self.low_usd),
            "expected_usd": money.to_json(self.expected_usd),
            "high_usd": money.to_json(self.high_usd),
            "budget_usd": money.to_json(self.budget_usd),
            "spent_usd": money.to_json(self.spent_usd),
            "remaining_usd": money.to_json(remaining),
            "fits": self.fits,
        }


@dataclass(frozen=True)
class CommitResult:
    """A commit: the approved ``shots`` render at final, the ``kept`` ones keep their preview, and
    ``rejected`` are the kept shots the reviewer declined (``ledger.figures.avoided``)."""

    preview_job_id: str
    final_job_id: str
    shots: tuple[str, ...]
    kept: tuple[str, ...]
    quote: Quote
    rejected: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "preview_job_id": self.preview_job_id,
            "final_job_id": self.final_job_id,
            "shots": list(self.shots),
            "kept": list(self.kept),
            "rejected": list(self.rejected),
            "quote": self.quote.to_dict(),
        }
