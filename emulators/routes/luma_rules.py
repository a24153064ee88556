"""What Luma refuses: the legacy Dream Machine API and the Agents API (``ray-3.2``).

Sources (each rule below names the one it comes from):
- [LEGACY] lumaai 1.21.0 ``types/generations/video_create_params.py`` (the Dream Machine SDK).
- [AGENTS] luma-agents 0.5.0 (PyPI, 2026-08) ``types/generation_create_params.py``,
  ``video_options_param.py``, ``image_ref_param.py``, ``video_duration.py``,
  ``video_resolution.py``, ``model.py``.
- [ERRORS] docs.agents.lumalabs.ai/guides/error-handling (seen 2026-12-04): 400 invalid
  parameters, 401 bad key, 413 input media over the size limit ("Image exceeds 50 MB" in the
  earlier revision), 422 "parameter combination rejected, or bad media data (base64 or URL)";
  bodies carry ``detail``.
- [GUIDE] calesthio/generative-media-skills ``luma-ray-video/SKILL.md`` (verified against
  docs.agents.lumalabs.ai/guides/videos/generation on 2026-07-10): ray-3.2 video aspect ratios,
  "the legacy two-anchor form does not work at 10 seconds", loop/HDR limits.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

# [LEGACY] VideoCreateParams: model Literal["ray-2", "ray-flash-2"], aspect_ratio literals;
# duration and resolution are ``Union[Literal[...], str]``: other strings UNCERTAIN, refused here
LEGACY_MODELS = ("ray-2", "ray-flash-2")
LEGACY_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
LEGACY_DURATIONS = ("5s", "9s")
LEGACY_RESOLUTIONS = ("540p", "720p", "1080p", "4k")

# [AGENTS] model.py; the create params' aspect_ratio enum; video_duration.py; video_resolution.py
AGENTS_MODELS = ("uni-1", "uni-1-max", "ray-3.2")
AGENTS_RATIOS: tuple[str, ...] = ("3:1", "2:1", "21:9", "16:9", "4:3", "3:2", "1:1", "3:4")
AGENTS_RATIOS += ("2:3", "9:16", "1:2", "1:3")
RAY_VIDEO_RATIOS = ("9:16", "3:4", "1:1", "4:3", "16:9", "21:9")  # [GUIDE]; docs.comfy.org mirror
AGENTS_DURATIONS = ("5s", "10s")
AGENTS_RESOLUTIONS = ("360p", "540p", "720p", "1080p")
PROMPT_LIMIT = 6000  # [GUIDE] "All current Ray 3.2 prompts are 1-6,000 characters"
MEDIA_LIMIT = 50 * 1024 * 1024  # [ERRORS] earlier revision "Image exceeds 50 MB" (UNCERTAIN now)


class Refused(ValueError):
    """Luma answers ``status`` with ``{"detail": message}`` ([ERRORS])."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def check_legacy(model: str, body: dict[str, Any]) -> None:
    if model not in LEGACY_MODELS:
        raise Refused(f"model must be one of {', '.join(LEGACY_MODELS)}, got {model!r}")
    for field, allowed in (
        ("aspect_ratio", LEGACY_RATIOS),
        ("duration", LEGACY_DURATIONS),
        ("resolution", LEGACY_RESOLUTIONS),
    ):
        if field in body and body[field] not in allowed:
            raise Refused(f"{field} must be one of {', '.join(allowed)}, got {body[field]!r}")
    keyframes = body.get("keyframes")
    if keyframes is None:
        return
    if not isinstance(keyframes, dict) or not set(keyframes) <= {"frame0", "frame1"}:
        raise Refused("keyframes takes frame0 and frame1")
    for name, frame in keyframes.items():
        # [LEGACY] KeyframesFrame0: {type: "image", url} or {type: "generation", id}; [DOC-I2V]
        # docs.lumalabs.ai/docs/video-generation (seen 2026-12-07): "You should upload and use
        # your own cdn image urls, currently this is the only way to pass an image", so a data:
        # URI is refused (the status of that refusal is UNCERTAIN; 400 as for other bad values)
        kind = frame.get("type") if isinstance(frame, dict) else None
        url = frame.get("url") if isinstance(frame, dict) else None
        if kind == "image" and isinstance(url, str):
            if not url.startswith(("https://", "http://")):
                raise Refused(f"keyframes.{name}.url must be an image URL, got {url[:16]!r}...")
            continue
        if kind == "generation" and isinstance(frame.get("id"), str):
            continue
        raise Refused(f"keyframes.{name} must be {{type: image, url}} or {{type: generation, id}}")


def check_agents(model: str, body: dict[str, Any]) -> dict[str, Any]:
    """Raise ``Refused`` for what the Agents API refuses on a ``type: video`` request; the
    ``video`` options otherwise."""
    if model not in AGENTS_MODELS:
        raise Refused(f"model must be one of {', '.join(AGENTS_MODELS)}, got {model!r}")
    if body.get("type") != "video" or model != "ray-3.2":
        # the emulator serves text/image-to-video only (uni-1 images, edits, reframes: not emulated)
        raise Refused("the emulator serves only type=video with model ray-3.2")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not 1 <= len(prompt) <= PROMPT_LIMIT:
        raise Refused(f"prompt is required, 1 to {PROMPT_LIMIT} characters")
    ratio = body.get("aspect_ratio")
    if ratio is not None and ratio not in AGENTS_RATIOS:
        raise Refused(f"aspect_ratio must be one of {', '.join(AGENTS_RATIOS)}, got {ratio!r}")
    if ratio is not None and ratio not in RAY_VIDEO_RATIOS:
        # [AGENTS] "the server validates the final model-specific set"; status 400 vs 422 UNCERTAIN
        raise Refused(f"ray-3.2 video supports aspect ratios {', '.join(RAY_VIDEO_RATIOS)}")
    video = body.get("video") or {}
    if not isinstance(video, dict):
        raise Refused("video must be an object")
    _check_video(video)
    return video


def _check_video(video: dict[str, Any]) -> None:
    duration = video.get("duration", "5s")
    if duration not in AGENTS_DURATIONS:
        raise Refused(f"video.duration must be one of 5s, 10s, got {duration!r}")
    resolution = video.get("resolution", "720p")
    if resolution not in AGENTS_RESOLUTIONS:
        raise Refused(f"video.resolution must be one of {', '.join(AGENTS_RESOLUTIONS)}")
    anchors = [name for name in ("start_frame", "end_frame") if video.get(name) is not None]
    for name in anchors:
        check_ref(video[name], f"video.{name}")
    if anchors and duration == "10s":
        # [AGENTS] keyframes docstring: "Unlike start_frame/end_frame (the legacy 2-frame surface),
        # this supports arbitrary positions, 10s durations, and HDR"; [GUIDE] same
        raise Refused("start_frame/end_frame do not support 10s; use keyframes", 422)
    if video.get("loop") and (duration == "10s" or video.get("hdr")):
        raise Refused("loop is not supported with duration=10s or hdr=true", 422)  # [AGENTS]
    if video.get("hdr") and (resolution not in ("720p", "1080p") or duration != "5s"):
        raise Refused("hdr needs 720p or 1080p at 5s", 422)  # [GUIDE]
    if video.get("exr_export") and not video.get("hdr"):
        raise Refused("exr_export requires hdr=true", 422)  # [AGENTS]
    _check_keyframes(video, duration, bool(anchors))


def _check_keyframes(video: dict[str, Any], duration: str, anchored: bool) -> None:
    """[AGENTS] keyframes: 1-64 ImageRefs with same-length, unique ``keyframe_indexes`` on the
    24 fps grid (5s -> 0..120, 10s -> 0..240); exclusive with start/end frame and loop."""
    frames, indexes = video.get("keyframes"), video.get("keyframe_indexes")
    if frames is None and indexes is None:
        return
    if anchored or video.get("loop"):
        raise Refused("keyframes exclude start_frame, end_frame and loop", 422)
    if not isinstance(frames, list) or not isinstance(indexes, list):
        raise Refused("keyframes and keyframe_indexes go together", 422)
    if not 1 <= len(frames) <= 64 or len(frames) != len(indexes):
        raise Refused("keyframes takes 1-64 frames, one index each", 422)
    top = 240 if duration == "10s" else 120
    valid = all(isinstance(i, int) and 0 <= i <= top for i in indexes)
    if not valid or len(set(indexes)) != len(indexes):
        raise Refused(f"keyframe_indexes must be unique frame positions 0..{top}", 422)
    for n, frame in enumerate(frames):
        check_ref(frame, f"video.keyframes[{n}]")


def check_ref(ref: Any, where: str) -> None:
    """[AGENTS] ImageRefParam: exactly one of url, data (+ media_type), generation_id, file_id."""
    if not isinstance(ref, dict):
        raise Refused(f"{where} must be an object")
    given = [k for k in ("url", "data", "generation_id", "file_id") if ref.get(k) is not None]
    if len(given) != 1:
        raise Refused(f"{where}: provide exactly one of url, data, generation_id, file_id")
    if given == ["url"] and not str(ref["url"]).startswith(("https://", "http://")):
        # a data: URI in ``url`` is not "a publicly accessible image URL" ([ERRORS] 422 bad URL)
        raise Refused(f"{where}.url must be a public image URL; send inline bytes as data", 422)
    if given == ["data"]:
        _check_data(ref, where)


def _check_data(ref: dict[str, Any], where: str) -> None:
    media_type = ref.get("media_type")
    if not isinstance(media_type, str) or not media_type.startswith("image/"):
        # [AGENTS] media_type "Required with data"; video media only on edit/reframe sources
        raise Refused(f"{where}.media_type (image/*) is required with data", 422)
    try:
        raw = base64.b64decode(str(ref["data"]), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refused(f"{where}.data is not valid base64", 422) from exc
    if len(raw) > MEDIA_LIMIT:
        raise Refused(f"{where}: input media exceeds the size limit", 413)
