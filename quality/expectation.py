"""What a shot asked for, as the gate's checks and scorers read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ClipExpectation:
    """What the shot asked for. ``duration_grid`` lists the durations the provider can render.

    ``speech`` is "required" for a shot with a spoken line (``dialogue``), "none" for one that must
    carry no speech, "any" when the gate should not look. Quoted text in ``prompt`` is text the
    frames must show; a prompt without quotes asks for no text on screen."""

    duration_s: float
    width: int
    height: int
    fps: float
    audio: Literal["required", "none", "any"]
    duration_grid: tuple[float, ...] | None = None
    tier: str = "standard"
    prompt: str | None = None
    dialogue: str | None = None
    speech: Literal["required", "none", "any"] = "any"
