"""What a preview-then-commit returns: the itemised quote of a final render and a commit's result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from foundation import money
from router import QuoteLine


@dataclass(frozen=True)
class StageLine:
    """One stage a final render runs besides its videos: ``stage`` (``tts``, ``sheet``,
    ``keyframe``, ``music``) of ``owner`` (a shot, a character, or ``(job)`` for the bed), the
    model quoted, and its quote: the stage's quote (``StageDecision.quote_usd``, the figure
    ``shotline plan`` prints), or $0 when the final reuses a stored output (``reused``; then
    ``saved_usd`` is the stage's quote). A stage has no retakes: its low, expected and high are
    its quote."""

    stage: str
    owner: str
    model_id: str
    quote_usd: float
    reused: bool = False
    saved_usd: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "owner": self.owner,
            "model": self.model_id,
            "quote_usd": money.to_json(self.quote_usd),
            "reused": self.reused,
            "saved_usd": money.to_json(self.saved_usd),
        }


@dataclass(frozen=True)
class Quote:
    """The itemised quote for committing some shots of a preview, against its job's budget: a
    line per approved shot's video (``lines``) and one per other stage the final runs and pays
    for (``stages``: tts lines, character sheets, keyframes, the music bed)."""

    job_id: str
    lines: tuple[QuoteLine, ...]
    budget_usd: float | None
    spent_usd: float
    reserved_usd: float
    stages: tuple[StageLine, ...] = ()

    @property
    def stages_usd(self) -> float:
        """The stages' quotes together (the exact sum, ``foundation.money``, as every total)."""
        return money.stored(money.total(line.quote_usd for line in self.stages))

    def stage_totals(self) -> dict[str, float]:
        """The stages' quotes by stage, in the order the stages appear."""
        totals: dict[str, list[float]] = {}
        for line in self.stages:
            totals.setdefault(line.stage, []).append(line.quote_usd)
        return {stage: money.stored(money.total(quotes)) for stage, quotes in totals.items()}

    @property
    def low_usd(self) -> float:
        """The videos' prices and the stages' quotes."""
        videos = money.total(line.quote_usd for line in self.lines)
        return money.stored(videos + money.usd(self.stages_usd))

    @property
    def expected_usd(self) -> float:
        """The videos' expected costs (retakes included) and the stages' quotes."""
        videos = money.total(line.expected_usd for line in self.lines)
        return money.stored(videos + money.usd(self.stages_usd))

    @property
    def high_usd(self) -> float:
        videos = money.total(line.high_usd for line in self.lines)
        return money.stored(videos + money.usd(self.stages_usd))

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
            "stages": [line.to_dict() for line in self.stages],
            "stages_usd": money.to_json(self.stages_usd),
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


def segments_of(quote: dict[str, Any], key: str) -> list[str]:
    """The final's segments of shot ``key`` in a commit's stored quote (``Quote.to_dict``): none
    unless the final splits it."""
    line: dict[str, Any] = next((x for x in quote.get("shots", []) if x["shot_id"] == key), {})
    return [str(part["shot_id"]) for part in line.get("segments", [])]


def preview_shot(quote: dict[str, Any], key: str) -> str:
    """The preview shot that shot ``key`` of a commit's final job renders again, read from the
    commit's stored quote (``Quote.to_dict``): the shot whose segments include ``key``, else
    ``key`` itself."""
    for line in quote.get("shots", []):
        if any(part.get("shot_id") == key for part in line.get("segments", [])):
            return str(line["shot_id"])
    return key
