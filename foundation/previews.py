"""How a preview renders (``preview:`` in the storyboard), and what a keyframes preview asks of
the shots.

``kind``: ``video`` (the default: draft video models), ``free`` (every shot on the local
animatic; nothing is spent; ``free: true`` is kept as its older spelling) or ``keyframes`` (every
shot's keyframe drawn by an image model, its line voiced by its tts stage, and the keyframe held
for the shot's duration as its clip: a timed animatic with the real voices and music, no video
model paid). A commit of a keyframes preview animates exactly the approved keyframes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from foundation.errors import Problem
from foundation.modes import Mode
from foundation.strict import Strict


class PreviewKind(StrEnum):
    VIDEO = "video"
    KEYFRAMES = "keyframes"
    FREE = "free"


class PreviewSpec(Strict):
    """How a preview renders: ``kind`` (``video`` | ``keyframes`` | ``free``); ``free: true`` is
    ``kind: free``, as it always was."""

    kind: PreviewKind = PreviewKind.VIDEO
    free: bool = Field(default=False, description="the older spelling of kind: free")

    @model_validator(mode="before")
    @classmethod
    def _free_is_a_kind(cls, data: Any) -> Any:
        """``free: true`` and ``kind: free`` are one setting (both are kept in the model, so code
        that reads ``free`` keeps working); ``free: true`` beside another kind is refused."""
        if not isinstance(data, dict):
            return data
        kind, free = data.get("kind"), data.get("free")
        if free is True:
            if kind not in (None, PreviewKind.FREE, "free"):
                raise ValueError(f"free: true is kind: free, not kind: {kind}; give one of them")
            return {**data, "kind": "free"}
        if kind in (PreviewKind.FREE, "free"):
            if free is False:
                raise ValueError("kind: free contradicts free: false; give one of them")
            return {**data, "free": True}
        return data

    @property
    def keyframes(self) -> bool:
        return self.kind is PreviewKind.KEYFRAMES


def keyframes_preview(preview: PreviewSpec, mode: Mode | str) -> bool:
    """Whether a job in ``mode`` is a keyframes preview."""
    return preview.keyframes and str(mode) == Mode.PREVIEW


def kind_problem(preview: PreviewSpec, mode: Mode | str) -> Problem | None:
    """A ``preview.kind`` the render cannot honour: a keyframes preview rendered in final mode
    (it would animate keyframes nobody approved; commit the preview instead)."""
    if preview.keyframes and str(mode) == Mode.FINAL:
        why = (
            "a keyframes preview renders in preview mode, and this render is final; render the "
            "preview and commit it (its approved keyframes are animated), or drop preview.kind"
        )
        return Problem("preview.kind", why)
    return None


def shot_keyframe_problem(path: str, spec: dict[str, Any]) -> Problem | None:
    """A shot a keyframes preview cannot show as its keyframe: ``keyframe: none``."""
    if spec.get("keyframe") == "none":
        why = (
            "a keyframes preview shows every shot's keyframe, and this shot asks for none; drop "
            "`keyframe: none` or use another preview kind"
        )
        return Problem(f"{path}.keyframe", why)
    return None


def with_keyframes(spec: dict[str, Any]) -> dict[str, Any]:
    """A shot of a keyframes preview: one without a first frame of its own (no keyframe,
    reference image or ``continues``) gets ``keyframe: generate``; the others are kept."""
    if spec.get("keyframe") or spec.get("reference_image") or spec.get("continues"):
        return spec
    return {**spec, "keyframe": "generate"}
