"""Gate configuration: detector thresholds and the per-tier policy that maps findings to a verdict.

The shipped defaults live in ``quality/policy.yaml``; ``load_policy`` validates any other file with
the same schema. Thresholds are on 8-bit luma and on a proxy whose short side is fixed, so they do
not change with the clip's resolution.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from foundation.errors import InvalidInputError, Problem

Action = Literal["repair", "retry", "escalate", "give_up", "ignore"]
SeverityName = Literal["info", "warning", "error"]
DEFAULT_POLICY = Path(__file__).with_name("policy.yaml")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectorConfig(_Frozen):
    proxy_short_side: int = Field(135, ge=32, le=1080)
    blur_short_side: int = Field(270, ge=64, le=1080)
    sample_fps: float = Field(8.0, gt=0)
    colour_fps: float = Field(4.0, gt=0)  # ``quality.consistency.profile``'s rate
    thumb_fps: float = Field(1.0, gt=0)
    thumb_width: int = Field(512, ge=64)
    black_pixel_level: int = 32
    black_share: float = 0.98
    black_min_s: float = 0.08
    freeze_mad: float = 0.25
    freeze_min_s: float = 0.5
    freeze_lag_s: float = Field(1 / 30, gt=0)
    """A frame is frozen when it differs by under ``freeze_mad`` from the frame this long before
    (the previous one at 30 fps or less), so a freeze is judged over time whatever the rate."""
    flicker_delta: float = 4.0
    flicker_min_alternations: int = 4
    flicker_window_s: float = 1.0
    blur_ratio: float = 0.4
    blur_min_s: float = 0.25
    blur_floor: float = 1.5
    dark_level: int = 16
    """Luma at or under which a pixel is crushed, on the limited-range scale every clip is
    measured on (``accumulate.limited_proxy``): 16 is reference black."""
    bright_level: int = 231
    """Luma at or over which a pixel is blown, on the same scale: 235 is reference white (231 is
    250 of a full-range clip)."""
    exposure_share: float = 0.35
    exposure_min_clip_share: float = 0.5
    bar_level: int = 28
    bar_min_share: float = 0.03
    cut_mad: float = 12.0
    cut_ratio: float = 5.0
    cut_hist: float = 0.05
    motion_floor: float = 0.5
    motion_min_pair_share: float = 0.9
    silence_db: float = -60.0
    dropout_min_s: float = 0.25
    silent_share: float = 0.95
    audio_clip_level: float = 0.999
    audio_clip_share: float = 0.0005
    av_tolerance_s: float = 0.2
    av_error_s: float = 0.5
    aspect_tolerance: float = 0.01
    fps_tolerance: float = 0.01
    truncation_tolerance_frames: int = 2
    vad_mode: int = Field(3, ge=0, le=3)  # webrtcvad aggressiveness: 3 rejects the most non-speech
    speech_min_s: float = Field(0.3, gt=0)
    speech_gap_s: float = Field(0.3, ge=0)
    speech_level_spread_db: float = Field(10.0, ge=0)
    # a voice has a pitch: the share of a stretch's loud frames whose autocorrelation peaks at a
    # 70-400 Hz period by at least ``speech_periodicity`` (noise bursts have none)
    speech_periodicity: float = Field(0.45, ge=0, le=1)
    speech_voiced_share: float = Field(0.3, ge=0, le=1)
    speech_words_per_s: float = Field(2.5, gt=0)
    speech_length_min_ratio: float = Field(0.5, gt=0)
    speech_length_max_ratio: float = Field(2.0, gt=0)
    ocr_frames: int = Field(3, ge=0)  # frames read for on-screen text; 0 turns the check off
    text_match: float = Field(0.8, gt=0, le=1)
    text_min_confidence: float = Field(0.8, ge=0, le=1)
    text_min_chars: int = Field(3, ge=1)
    safety_frames: int = Field(4, ge=0)  # frames the image safety classifier reads; 0: off
    iqa_frames: int = Field(3, ge=0)  # frames whose NIQE and noise are measured; 0: off
    niqe_max: float = Field(30.0, gt=0)  # low_quality over this median NIQE
    noise_max: float = Field(4.0, gt=0)  # low_quality over this median noise sigma (8-bit)


class TierPolicy(_Frozen):
    """What one quality tier tolerates. ``severity`` and ``actions`` override the global maps."""

    min_score: float = Field(0.5, ge=0, le=1)
    judge: bool = False
    judge_min_score: float = Field(0.5, ge=0, le=1)
    judge_weight: float = Field(0.6, ge=0, le=1)
    max_retries: int = Field(1, ge=0)
    watch_text: bool = True  # OCR every clip for unexpected text, not only prompts that quote text
    severity: dict[str, SeverityName] = Field(default_factory=dict)
    actions: dict[str, Action] = Field(default_factory=dict)


ALWAYS_ERRORS = ("unsafe_content",)  # no tier may lower these or let them through


class GatePolicy(_Frozen):
    detectors: DetectorConfig = Field(default_factory=DetectorConfig)
    actions: dict[str, Action]
    tiers: dict[str, TierPolicy]
    default_tier: str = "standard"

    @model_validator(mode="after")
    def _keeps_safety(self) -> GatePolicy:
        for code in ALWAYS_ERRORS:
            actions = [self.actions.get(code)] + [t.actions.get(code) for t in self.tiers.values()]
            if "ignore" in actions or any(
                t.severity.get(code, "error") != "error" for t in self.tiers.values()
            ):
                raise ValueError(f"{code} must stay an error that is not ignored in every tier")
        return self

    def tier(self, name: str) -> TierPolicy:
        return self.tiers.get(name) or self.tiers[self.default_tier]

    def action_for(self, code: str, tier: str) -> Action:
        overrides = self.tier(tier).actions
        if code in overrides:
            return overrides[code]
        if code in self.actions:
            return self.actions[code]
        return self.actions.get("default", "retry")


def load_policy(path: Path | None = None) -> GatePolicy:
    """Read and validate a policy file; raise ``InvalidInputError`` listing every problem."""
    source = path or DEFAULT_POLICY
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        # a bad argument (exit 2), as a policy that does not validate is
        raise InvalidInputError(
            f"cannot read gate policy {source}", [Problem("--policy", str(exc))]
        ) from exc
    try:
        policy = GatePolicy.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(".".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors()
        ]
        raise InvalidInputError(f"invalid gate policy {source}", problems) from exc
    if policy.default_tier not in policy.tiers:
        raise InvalidInputError(
            f"invalid gate policy {source}",
            [Problem("default_tier", f"{policy.default_tier!r} is not a tier")],
        )
    return policy


@cache
def default_policy() -> GatePolicy:
    return load_policy(DEFAULT_POLICY)
