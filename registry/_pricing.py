"""Price functions of (seconds, resolution, audio), in per-second, per-request or credit units.

Every price point carries its source and effective date; a model may keep its price history, and a
quote uses the newest point in force on the quote's date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Literal, Protocol

from foundation import clock, money
from registry.errors import PriceUnavailableError

MAX_CLIP_S = 3600.0
"""The longest clip a registry entry may name: an hour, far past any model's (the built-in
catalog's longest hosted clip is 15 s); a longer one only overflowed its price's arithmetic."""
MAX_RATE = 100_000.0
"""The largest price rate an entry may name (the built-in catalog's largest is 40): a rate
times a clip's seconds stays an amount ``foundation.money`` can hold."""

Certainty = Literal["documented", "third_party", "estimate", "uncertain"]


class _SourcedRate(Protocol):
    @property
    def source(self) -> str | None: ...

    @property
    def effective(self) -> date | None: ...


def check_rates_sourced(
    rates: Iterable[_SourcedRate], source: str | None, effective: date | None
) -> None:
    """Every rate of a price names its source and effective date, itself or through the price."""
    for index, rate in enumerate(rates):
        if not (rate.source or source):
            raise ValueError(f"rates[{index}] has no source (set it on the rate or the price)")
        if not (rate.effective or effective):
            raise ValueError(f"rates[{index}] has no effective date")


RESOLUTIONS: dict[str, int] = {
    "360p": 360,
    "480p": 480,
    "540p": 540,
    "720p": 720,
    "1080p": 1080,
    "1440p": 1440,
    "4k": 2160,
}
_BUCKETS = sorted(RESOLUTIONS.items(), key=lambda item: item[1])
_EPS = 1e-6


def resolution_label(width: int, height: int) -> str:
    """The price bucket of a size: the smallest standard resolution whose short side covers it."""
    short = min(width, height)
    for label, side in _BUCKETS:
        if short <= side:
            return label
    return "4k"


class PriceUnit(StrEnum):
    PER_SECOND = "per_second"
    PER_REQUEST = "per_request"
    CREDITS_PER_SECOND = "credits_per_second"
    CREDITS_PER_REQUEST = "credits_per_request"


@dataclass(frozen=True)
class PricePoint:
    """One rate. ``resolutions``/``audio`` of None match anything; ``seconds`` keys request rows."""

    rate: float
    source: str
    effective: date
    resolutions: frozenset[str] | None = None
    audio: bool | None = None
    seconds: float | None = None
    certainty: str = "documented"
    note: str = ""

    def matches(self, resolution: str, audio: bool) -> bool:
        return (self.resolutions is None or resolution in self.resolutions) and (
            self.audio is None or self.audio is audio
        )

    @property
    def specificity(self) -> int:
        return (self.resolutions is not None) * 2 + (self.audio is not None)


@dataclass(frozen=True)
class PriceQuote:
    model_id: str
    usd: float
    seconds: float
    resolution: str
    audio: bool
    unit: PriceUnit
    rate: float
    source: str
    effective: date
    certainty: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "usd": money.to_json(self.usd),
            "seconds": self.seconds,
            "resolution": self.resolution,
            "audio": self.audio,
            "unit": str(self.unit),
            "rate": self.rate,
            "source": self.source,
            "effective": self.effective.isoformat(),
            "certainty": self.certainty,
        }


@dataclass(frozen=True)
class Pricing:
    unit: PriceUnit
    points: tuple[PricePoint, ...]
    usd_per_credit: float = 0.0

    def quote(
        self, model_id: str, seconds: float, resolution: str, audio: bool, on: date | None = None
    ) -> PriceQuote:
        point = self._point(model_id, seconds, resolution, audio, on)
        rate, secs, per_credit = (
            money.decimal(v) for v in (point.rate, seconds, self.usd_per_credit)
        )
        if self.unit is PriceUnit.PER_SECOND:
            usd = rate * secs
        elif self.unit is PriceUnit.CREDITS_PER_SECOND:
            usd = rate * secs * per_credit
        elif self.unit is PriceUnit.CREDITS_PER_REQUEST:
            usd = rate * per_credit
        else:
            usd = rate
        return PriceQuote(
            model_id=model_id,
            usd=money.stored(usd),
            seconds=seconds,
            resolution=resolution,
            audio=audio,
            unit=self.unit,
            rate=point.rate,
            source=point.source,
            effective=point.effective,
            certainty=point.certainty,
        )

    def _point(
        self, model_id: str, seconds: float, resolution: str, audio: bool, on: date | None
    ) -> PricePoint:
        day = on or clock.today()
        found = [p for p in self.points if p.matches(resolution, audio) and p.effective <= day]
        if any(p.seconds is not None for p in found):
            longer = [p for p in found if p.seconds is not None and p.seconds >= seconds - _EPS]
            if not longer:
                raise PriceUnavailableError(
                    f"{model_id}: no per-request price covers {seconds:g}s at {resolution}"
                )
            shortest = min(p.seconds or 0.0 for p in longer)
            found = [p for p in longer if abs((p.seconds or 0.0) - shortest) < _EPS]
        if not found:
            sound = "with" if audio else "without"
            raise PriceUnavailableError(f"{model_id}: no price for {resolution} {sound} audio")
        return max(found, key=lambda p: (p.specificity, p.effective))

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": str(self.unit),
            "usd_per_credit": self.usd_per_credit or None,
            "points": [
                {
                    "rate": p.rate,
                    "resolutions": sorted(p.resolutions) if p.resolutions else "any",
                    "audio": "any" if p.audio is None else p.audio,
                    "seconds": p.seconds,
                    "source": p.source,
                    "effective": p.effective.isoformat(),
                    "certainty": p.certainty,
                    "note": p.note,
                }
                for p in self.points
            ],
        }

    def summary(self, offered: Iterable[str] | None = None) -> str:
        """A short human form, e.g. ``$0.10/s 720p``, of the cheapest current point among the
        ``offered`` resolutions."""
        labels = set(offered) if offered is not None else None
        usable = [
            p
            for p in self.points
            if labels is None or p.resolutions is None or p.resolutions & labels
        ] or list(self.points)
        newest = max(p.effective for p in usable)
        current = [p for p in usable if p.effective == newest]
        point = min(current, key=lambda p: p.rate)
        shown = point.resolutions & labels if point.resolutions and labels else point.resolutions
        res = "/".join(sorted(shown, key=RESOLUTIONS.__getitem__)) if shown else ""
        sound = "" if point.audio is None else (" +audio" if point.audio else " silent")
        if self.unit is PriceUnit.PER_SECOND:
            head = f"${point.rate:g}/s"
        elif self.unit is PriceUnit.CREDITS_PER_SECOND:
            head = f"{point.rate:g} cr/s (${point.rate * self.usd_per_credit:g}/s)"
        elif self.unit is PriceUnit.CREDITS_PER_REQUEST:
            head = f"{point.rate:g} cr/clip"
        else:
            head = (
                f"${point.rate:g}/{point.seconds:g}s clip"
                if point.seconds
                else f"${point.rate:g}/clip"
            )
        return " ".join(part for part in (head, res, sound.strip()) if part)
