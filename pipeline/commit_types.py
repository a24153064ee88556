"""What a preview-then-commit returns: the itemised quote of a final render and a commit's result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
        return sum(line.quote_usd for line in self.lines)

    @property
    def expected_usd(self) -> float:
        return sum(line.expected_usd for line in self.lines)

    @property
    def high_usd(self) -> float:
        return sum(line.high_usd for line in self.lines)

    @property
    def remaining_usd(self) -> float | None:
        if self.budget_usd is None:
            return None
        return max(0.0, self.budget_usd - self.spent_usd - self.reserved_usd)

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
            "low_usd": round(self.low_usd, 4),
            "expected_usd": round(self.expected_usd, 4),
            "high_usd": round(self.high_usd, 4),
            "budget_usd": self.budget_usd,
            "spent_usd": round(self.spent_usd, 4),
            "remaining_usd": None if remaining is None else round(remaining, 4),
            "fits": self.fits,
        }


@dataclass(frozen=True)
class CommitResult:
    preview_job_id: str
    final_job_id: str
    shots: tuple[str, ...]
    kept: tuple[str, ...]
    quote: Quote

    def to_dict(self) -> dict[str, Any]:
        return {
            "preview_job_id": self.preview_job_id,
            "final_job_id": self.final_job_id,
            "shots": list(self.shots),
            "kept": list(self.kept),
            "quote": self.quote.to_dict(),
        }
