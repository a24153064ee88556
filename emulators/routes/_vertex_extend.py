"""Vertex Veo's extend operation: ``predictLongRunning`` with ``instances[0].video``.

Sources (each rule cites one):
- [SDK] google-genai 3.6.1 ``types.py GenerateVideosSource.video`` ("The input video for video
  extension use cases ... Not allowed if image is provided") and ``models.py _Video_to_vertex``
  (``{gcsUri | bytesBase64Encoded, mimeType}``);
- [DOC-EXTEND] docs.cloud.google.com/gemini-enterprise-agent-platform/models/video/extend-videos
  and .../extend-a-veo-video (stored copies, 2026): the input video is 1 to 30 s long, Veo
  extends it to at most 37 s; models veo-3.1-generate-001, veo-3.1-fast-generate-001 and
  veo-3.1-lite-generate-001 (preview);
- [3P-EXTEND] docs.jiekou.ai reference-veo-3.1-generate-extend (2026, a Vertex reseller's
  reference): each call adds 7 s, output 720p or 1080p, 16:9 or 9:16, the input an MP4 at 24 fps.
The answer is the sent clip followed by the extension, one video (as [DOC-EXTEND]'s "extend
videos to ... 37 seconds" implies: UNCERTAIN whether Vertex can return the extension alone).
Error wording is the emulator's (UNCERTAIN); the status (400 INVALID_ARGUMENT) is Vertex's for a
bad argument.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

from media.probe import probe

EXTENDS = ("veo-3.1-generate-001", "veo-3.1-fast-generate-001", "veo-3.1-lite-generate-001")
SECONDS = 7  # [3P-EXTEND] "extend an input video by 7 seconds"
INPUT_SECONDS = (1.0, 30.0)  # [DOC-EXTEND]
RESOLUTIONS = ("720p", "1080p")  # [3P-EXTEND]
FPS = 24.0  # [3P-EXTEND] "MP4 format, 24fps"


class ExtendRefused(ValueError):
    """A refusal of an extend request (400 INVALID_ARGUMENT)."""


def check_extend(model: str | None, instance: dict[str, Any], params: dict[str, Any]) -> None:
    """Raise ``ExtendRefused`` for what Vertex refuses (a ``gcsUri`` clip is not fetched, so not
    measured). ``model`` is None for a scenario's test double (per-model rules skipped)."""
    video = instance.get("video")
    if not isinstance(video, dict) or not (video.get("bytesBase64Encoded") or video.get("gcsUri")):
        raise ExtendRefused("video needs bytesBase64Encoded or gcsUri.")  # [SDK] _Video_to_vertex
    if any(instance.get(key) for key in ("image", "lastFrame", "referenceImages")):
        raise ExtendRefused("video and image cannot both be set.")  # [SDK] GenerateVideosSource
    if model is not None and model not in EXTENDS:
        raise ExtendRefused(f"Video extension is not supported by {model}.")  # [DOC-EXTEND]
    duration = params.get("durationSeconds", SECONDS)
    if model is not None and duration != SECONDS:
        raise ExtendRefused(
            f"durationSeconds must be {SECONDS} to extend a video, got {duration!r}."
        )
    aspect = params.get("aspectRatio", "16:9")
    if model is not None and aspect not in ("16:9", "9:16"):  # [3P-EXTEND]
        raise ExtendRefused(f"Unsupported aspectRatio {aspect!r}; supported: 16:9, 9:16.")
    resolution = params.get("resolution", "720p")
    if model is not None and resolution not in RESOLUTIONS:
        raise ExtendRefused(f"Unsupported resolution {resolution!r} to extend a video.")
    data = video.get("bytesBase64Encoded")
    if not data:
        return
    try:
        raw = base64.b64decode(str(data), validate=True)
    except ValueError as exc:
        raise ExtendRefused("video.bytesBase64Encoded is not valid base64.") from exc
    _check_clip(raw)


def _check_clip(raw: bytes) -> None:
    """[DOC-EXTEND] a 1-30 s input; [3P-EXTEND] a readable MP4 at 24 fps."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.mp4"
        path.write_bytes(raw)
        info = probe(path)
    if info.error or not info.has_video:
        raise ExtendRefused("video is not a readable MP4.")
    low, high = INPUT_SECONDS
    if not low <= info.duration_s <= high:
        raise ExtendRefused(
            f"The input video must be between {low:g} and {high:g} seconds long, "
            f"got {info.duration_s:.2f}."
        )
    if abs(info.fps - FPS) > 0.5:
        raise ExtendRefused(f"The input video must be {FPS:g} fps, got {info.fps:g}.")
