"""Shot type from the prompt when the storyboard does not say it."""

from __future__ import annotations

import re

from foundation.storyboard import AudioNeed, Shot, ShotType

_WORDS: dict[ShotType, tuple[str, ...]] = {
    ShotType.ESTABLISHING: (
        "establishing",
        "wide shot",
        "aerial",
        "drone",
        "skyline",
        "landscape",
        "panorama",
        "exterior",
        "cityscape",
        "vista",
        "overview",
        "sunrise over",
        "sunset over",
    ),
    ShotType.DIALOGUE: (
        "says",
        "said",
        "talks",
        "talking",
        "speaks",
        "speaking",
        "conversation",
        "interview",
        "dialogue",
        "asks",
        "replies",
        "whispers",
        "tells",
        "monologue",
        "to camera",
    ),
    ShotType.ACTION: (
        "chase",
        "running",
        "runs",
        "explosion",
        "explodes",
        "fight",
        "jumps",
        "crash",
        "races",
        "racing",
        "sprint",
        "falls",
        "punch",
        "fast-paced",
        "speeding",
        "action",
    ),
    ShotType.PRODUCT: (
        "product",
        "packshot",
        "bottle",
        "logo",
        "white background",
        "studio lighting",
        "turntable",
        "rotating",
        "on a pedestal",
        "close-up of the",
        "macro",
        "showcase",
    ),
}
_PATTERNS = {
    kind: re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b")
    for kind, words in _WORDS.items()
}


def infer_shot_type(shot: Shot) -> tuple[ShotType, bool]:
    """``(type, inferred)``: the given type, or the best keyword match (dialogue audio wins)."""
    if shot.type is not None:
        return shot.type, False
    if shot.audio is AudioNeed.DIALOGUE:
        return ShotType.DIALOGUE, True
    text = shot.prompt.lower()
    hits = {kind: len(pattern.findall(text)) for kind, pattern in _PATTERNS.items()}
    best = max(hits, key=lambda kind: hits[kind])
    return (best if hits[best] else ShotType.BROLL), True
