"""A shot's ``keyframe``: ``generate`` (a keyframe stage draws its first frame), ``none``, or a
path (the first frame, as ``reference_image`` is). The default is ``generate`` for a shot with
characters and no first frame of its own; ``pipeline.keyframes`` plans the stage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from foundation.errors import Problem

KEYFRAME_WORDS = ("generate", "none")
KEYFRAME_FIELDS = ("keyframe", "characters", "reference_image", "continues")


def spec_keyframe(spec: Mapping[str, Any]) -> bool:
    """Whether a keyframe stage draws the shot's first frame: ``keyframe: generate``, or by
    default a shot with characters that has no first frame of its own (no ``reference_image``, a
    ``keyframe`` path being one, and it does not ``continues`` from the previous shot)."""
    value = spec.get("keyframe")
    if value is not None:
        return bool(value == "generate")
    return (
        bool(spec.get("characters"))
        and not spec.get("reference_image")
        and not spec.get("continues")
    )


def keyframe_path_is_first_frame(cls: type, data: Any) -> Any:
    """``keyframe: <path>`` is the shot's first frame, as ``reference_image`` is: it is kept as
    both (the same path); a different ``reference_image`` beside it is refused by
    ``keyframe_problem``."""
    if not isinstance(data, dict):
        return data
    path = data.get("keyframe")
    if isinstance(path, str) and path not in KEYFRAME_WORDS and not data.get("reference_image"):
        return {**data, "reference_image": path}
    return data


def keyframe_problem(path: str, shot: Any) -> Problem | None:
    """A ``keyframe`` that contradicts the shot's other first frame (its ``reference_image``, or
    the previous shot's last frame when it ``continues``)."""
    value, where = shot.keyframe, f"{path}.keyframe"
    if value is None or value == "none":
        return None
    if value == "generate":
        if shot.reference_image:
            why = "the shot's reference_image is already its first frame; drop one of them"
            return Problem(where, f"cannot generate a keyframe: {why}")
        if shot.continues:
            why = "the shot continues from the previous shot's last frame"
            return Problem(where, f"cannot generate a keyframe: {why}")
        return None
    if value == shot.reference_image:  # a path given as the keyframe (also its reference_image)
        return None
    return Problem(where, f"{value!r} and reference_image both set the first frame; give one")
