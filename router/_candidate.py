"""What a shot needs from routing, and one model able to take it: the records every other router
module (filter, score, explanation, decision) builds on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from foundation import money
from foundation.spoken import spoken_prompt, with_negative
from foundation.storyboard import AudioNeed
from registry import PromptUnits, prompt_length


@dataclass(frozen=True)
class ShotNeed:
    """One storyboard shot reduced to what routing needs. ``seed`` is fixed here, so every
    fallback renders with the same seed, prompt and reference image."""

    shot_id: str
    scene_id: str
    path: str
    prompt: str
    duration_s: float
    width: int
    height: int
    fps: float
    audio: AudioNeed
    shot_type: str
    type_inferred: bool
    seed: int
    has_image: bool = False
    reference_image: str | None = None
    pinned_model: str | None = None
    dialogue: str | None = None
    negative_prompt: str | None = None
    reference_images: int = 0  # the featured characters' reference images
    keyframe: bool = False  # a keyframe stage draws the first frame the video animates
    extends: bool = False  # extends the previous shot's clip (the model's extend operation)
    speaker: str | None = None  # who says ``dialogue`` (the prompt names them)

    def prompt_length(self, units: PromptUnits, negative_in_prompt: bool = False) -> int:
        """The length of the prompt a model is sent, as the model counts it (``units``): with the
        line, as ``spoken_prompt`` writes it (counting the line alone, or characters where Runway
        counts UTF-16 code units, a prompt near a model's limit was routed there and cut short by
        its adapter, the line with it: missing_speech on every paid clip), and with the negatives
        where the model takes them in its prompt (``with_negative``)."""
        sent = spoken_prompt(self.prompt, self.dialogue, self.speaker)
        if negative_in_prompt:
            sent = with_negative(sent, self.negative_prompt)
        return prompt_length(sent, units)


@dataclass(frozen=True)
class Candidate:
    """One model able to take the shot, with the request after adaptations and its score."""

    model_id: str
    provider: str
    provider_model: str
    quote_usd: float
    duration_s: float
    width: int
    height: int
    fps: float
    audio: bool
    adaptations: list[str]
    score: float
    resolution: str = ""
    tier: str = ""
    expected_cost_usd: float = 0.0
    acceptance: float = 1.0
    render_p50_s: float = 0.0
    render_p95_s: float = 0.0
    seed_supported: bool = False
    expected_attempts: float = 1.0
    health: str = "closed"
    components: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "provider": self.provider,
            "provider_model": self.provider_model,
            "quote_usd": money.to_json(self.quote_usd),
            "expected_cost_usd": money.to_json(self.expected_cost_usd),
            "duration_s": self.duration_s,
            "size": f"{self.width}x{self.height}",
            "resolution": self.resolution,
            "fps": self.fps,
            "audio": self.audio,
            "adaptations": list(self.adaptations),
            "score": round(self.score, 4),
            "acceptance": round(self.acceptance, 3),
            "render_p50_s": round(self.render_p50_s, 1),
            "render_p95_s": round(self.render_p95_s, 1),
            "tier": self.tier,
            "health": self.health,
            "notes": list(self.notes),
        }
