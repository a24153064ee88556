"""What the router may adapt, and how it weighs cost, speed, quality and acceptance per intent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import Any

from foundation import clock
from foundation.storyboard import Mode
from registry import Tier

PREVIEW_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"cost": 0.45, "speed": 0.30, "quality": 0.10, "acceptance": 0.15}
)
FINAL_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"cost": 0.15, "speed": 0.10, "quality": 0.45, "acceptance": 0.30}
)


@dataclass(frozen=True)
class RoutingPolicy:
    """Knobs of one routing run. ``RoutingPolicy.for_mode(mode)`` gives the defaults per intent.

    Adaptations are only made when allowed here, and each one is recorded on the candidate:
    - ``max_duration_pad_s``: render up to this much longer than asked (the stitcher trims);
    - ``max_duration_trim_s``: render up to this much shorter (the timeline shrinks);
    - ``allow_upscale``: render smaller than the output size (upscaled at stitch);
    - ``allow_downscale``: render larger than the output size (downscaled at stitch);
    - ``allow_fps_change``: render at the model's frame rate (resampled at stitch);
    - ``allow_drop_ambient_audio``: a shot asking for ambient audio may go to a silent model;
    - ``allow_unverified``: route to models whose registry entry the provider has not confirmed;
    - ``stills``: a keyframes preview: every shot goes to a model that holds its first frame
      (``inputs.holds_frame``, the local still) and to no other; without it, never to one.
    """

    mode: Mode = Mode.PREVIEW
    today: date | None = None
    max_duration_pad_s: float = 3.0
    max_duration_trim_s: float = 0.0
    allow_upscale: bool = True
    allow_downscale: bool = True
    allow_fps_change: bool = True
    allow_drop_ambient_audio: bool = True
    aspect_tolerance: float = 0.01
    max_shot_usd: float | None = None
    max_fallbacks: int = 4
    min_tier: Tier | None = None
    allow_unverified: bool = False
    draft_last_resort: bool = True
    max_attempts_per_model: int = 3
    continuity: bool = True
    stills: bool = False
    weights: Mapping[str, float] = field(default_factory=lambda: PREVIEW_WEIGHTS)

    @classmethod
    def for_mode(cls, mode: Mode, **overrides: Any) -> RoutingPolicy:
        """Preview favours cheap and fast and adapts freely; final favours quality, never
        upscales and never drops requested audio. In both, the draft tier (the local animatic)
        is used only when no generative model can take the shot."""
        if mode is Mode.FINAL:
            base = cls(
                mode=mode,
                allow_upscale=False,
                allow_drop_ambient_audio=False,
                weights=FINAL_WEIGHTS,
            )
        else:
            base = cls(mode=mode, weights=PREVIEW_WEIGHTS)
        return replace(base, **overrides)

    @property
    def day(self) -> date:
        return self.today or clock.today()
