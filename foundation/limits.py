"""What a storyboard may ask for: the ranges every model and the stitcher can honour, and the
configurable caps on a document's and a storyboard's size (``SHOTLINE_MAX_*``).

The fixed ranges were measured against the local pipeline (render, quality gate, stitch, verify):
below 10 fps the stitch verification fails, a short side under 32 pixels crashes the gate's
optical flow, and a shot needs a few frames for the gate and the transitions around it.
"""

from __future__ import annotations

from dataclasses import dataclass

from foundation.settings import Settings, get_settings

BRIEF_MAX_CHARS = 4000  # a draft's brief (``shotline draft``, ``POST /v1/storyboards:draft``)
STYLE_MAX_CHARS = 500  # a draft's ``--style``

MIN_FPS = 10.0
MAX_FPS = 120.0
MIN_SIDE = 32
MAX_SIDE = 7680
MAX_PIXELS = 7680 * 4320
MAX_ASPECT = 8.0
MIN_SHOT_S = 0.25
MIN_SHOT_FRAMES = 6
MAX_SHOT_S = 120.0
MIN_LOUDNESS_LUFS = -40.0
MAX_LOUDNESS_LUFS = -10.0
"""The loudest ``output.loudness_lufs`` the stitcher reaches within its 1 LU tolerance under its
-1 dBTP true-peak ceiling: its limiter cannot raise a programme past about -7.5 LUFS (a noise
bed, measured) or -8.5 LUFS (speech); a louder target failed the delivery's loudness check after
every shot was paid for (``stitching.audio.normalise_loudness``)."""
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
"""The largest storyboard file read, and the API's default body limit: a 200-shot storyboard at
every field's longest is well under it, and ``/dev/zero`` given as a storyboard is refused
instead of read until memory runs out."""
_DEFAULTS = Settings.model_fields  # the configurable caps have their defaults in one place


@dataclass(frozen=True)
class Limits:
    """Caps on one submitted document (parsing) and on the storyboard it holds (validation)."""

    max_shots: int = _DEFAULTS["max_shots"].default
    max_total_duration_s: float = _DEFAULTS["max_total_duration_s"].default
    max_document_nodes: int = _DEFAULTS["max_document_nodes"].default
    max_document_depth: int = _DEFAULTS["max_document_depth"].default
    max_number_digits: int = 40

    @classmethod
    def from_settings(cls) -> Limits:
        settings = get_settings()
        return cls(
            max_shots=settings.max_shots,
            max_total_duration_s=settings.max_total_duration_s,
            max_document_nodes=settings.max_document_nodes,
            max_document_depth=settings.max_document_depth,
        )
