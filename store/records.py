"""The typed records kept in JSON columns: a shot's route (``Shot.route``), the candidates of its
fallback chain, and an attempt's stored provider request (``Attempt.request``).

Each record converts at the column with one ``to_json``/``from_json`` pair. The JSON shape is the
one the columns have always held, so existing databases and API responses read the same; readers
of older or partial rows get the documented defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JsonObject = dict[str, Any]
"""A JSON object as stored in a column (the values are whatever JSON holds)."""


@dataclass(frozen=True)
class RouteCandidate:
    """One model of a shot's fallback chain, with the request after the router's adaptations:
    what the pipeline needs to run and resume an attempt on it."""

    model_id: str
    provider: str
    provider_model: str
    quote_usd: float
    duration_s: float
    width: int
    height: int
    fps: float
    audio: bool
    adaptations: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        return {
            "model_id": self.model_id,
            "provider": self.provider,
            "provider_model": self.provider_model,
            "quote_usd": float(self.quote_usd),
            "duration_s": float(self.duration_s),
            "width": int(self.width),
            "height": int(self.height),
            "fps": float(self.fps),
            "audio": bool(self.audio),
            "adaptations": list(self.adaptations),
            "params": dict(self.params),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RouteCandidate:
        return cls(
            model_id=str(data["model_id"]),
            provider=str(data["provider"]),
            provider_model=str(data.get("provider_model", "")),
            quote_usd=float(data.get("quote_usd", 0.0)),
            duration_s=float(data["duration_s"]),
            width=int(data["width"]),
            height=int(data["height"]),
            fps=float(data["fps"]),
            audio=bool(data.get("audio", False)),
            adaptations=tuple(data.get("adaptations", ())),
            params=dict(data.get("params") or {}),
        )


@dataclass(frozen=True)
class ShotRoute:
    """The route of one shot: the primary and its ordered fallbacks (``candidates``), the seed
    every candidate renders with, the shot type, and the router's explanation (the decision as the
    API shows it: a JSON document the pipeline never reads)."""

    candidates: tuple[RouteCandidate, ...] = ()
    seed: int | None = None
    shot_type: str | None = None
    explanation: Mapping[str, Any] | None = None
    native: Mapping[str, tuple[RouteCandidate, ...]] = field(default_factory=dict)
    """By variant label, the chain that renders the shot natively in that variant's aspect
    (``pipeline.native``); a variant absent here is reframed."""

    @property
    def primary(self) -> RouteCandidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def chain(self) -> list[str]:
        """The model ids of the chain, primary first."""
        return [candidate.model_id for candidate in self.candidates]

    def with_seed(self, seed: int) -> ShotRoute:
        return ShotRoute(self.candidates, seed, self.shot_type, self.explanation, self.native)

    def to_json(self) -> JsonObject:
        data: JsonObject = {"candidates": [c.to_json() for c in self.candidates]}
        if self.seed is not None:
            data["seed"] = self.seed
        if self.shot_type is not None:
            data["shot_type"] = self.shot_type
        if self.explanation is not None:
            data["explanation"] = dict(self.explanation)
        if self.native:
            data["native"] = {k: [c.to_json() for c in v] for k, v in self.native.items()}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ShotRoute:
        """The route of a row; an empty or missing route has no candidates."""
        data = data or {}
        seed = data.get("seed")
        shot_type = data.get("shot_type")
        explanation = data.get("explanation")
        return cls(
            candidates=tuple(RouteCandidate.from_json(c) for c in data.get("candidates") or ()),
            seed=None if seed is None else int(seed),
            shot_type=None if shot_type is None else str(shot_type),
            explanation=None if explanation is None else dict(explanation),
            native={
                label: tuple(RouteCandidate.from_json(c) for c in chain)
                for label, chain in (data.get("native") or {}).items()
            },
        )


@dataclass(frozen=True)
class StoredRequest:
    """An attempt's provider request as stored before submitting, so a resumed process sends the
    same one. The reference image is not stored (it is resolved when submitting); ``extra`` holds
    the model's parameters, the idempotency key and, when set, the webhook URL."""

    shot_id: str
    prompt: str
    duration_s: float
    width: int
    height: int
    fps: float
    model: str
    provider_model: str = ""
    audio: bool = False
    dialogue: str | None = None
    seed: int | None = None
    negative_prompt: str | None = None
    shot_type: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    speaker: str | None = None

    def to_json(self) -> JsonObject:
        data: JsonObject = {
            "shot_id": self.shot_id,
            "prompt": self.prompt,
            "duration_s": self.duration_s,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "model": self.model,
            "provider_model": self.provider_model,
            "audio": self.audio,
            "dialogue": self.dialogue,
            "seed": self.seed,
            "reference_image": None,
            "negative_prompt": self.negative_prompt,
            "shot_type": self.shot_type,
            "extra": dict(self.extra),
        }
        if self.speaker is not None:  # requests stored before speakers existed stay as they were
            data["speaker"] = self.speaker
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredRequest:
        """Also takes a request's field mapping (``dataclasses.asdict`` of the adapter request):
        its reference image is dropped."""
        seed = data.get("seed")
        return cls(
            shot_id=str(data["shot_id"]),
            prompt=str(data["prompt"]),
            duration_s=float(data["duration_s"]),
            width=int(data["width"]),
            height=int(data["height"]),
            fps=float(data["fps"]),
            model=str(data["model"]),
            provider_model=str(data.get("provider_model") or ""),
            audio=bool(data.get("audio", False)),
            dialogue=data.get("dialogue"),
            seed=None if seed is None else int(seed),
            negative_prompt=data.get("negative_prompt"),
            shot_type=data.get("shot_type"),
            extra=dict(data.get("extra") or {}),
            speaker=data.get("speaker"),
        )
