"""What Kling refuses, as data and checks, for both of its API design standards.

Sources (cited per rule below by a short name):
- [T3] kling.ai/document-api/api/video/3-0-omni/text-to-video and /image-to-video (Kling 3.0, new
  standard), [TT] .../3-0-turbo/text-to-video and /image-to-video, [ERR] .../get-started/error-codes,
  [AUTH] .../get-started/authentication, [UPD] .../updates/api: the vendor's pages as exported
  through its llms.txt on 2026-09-20, mirrored verbatim in aself101/kling-api ``docs/api/``
  (kling-omni-3.0-{t2v,i2v}.md, kling-3.0-turbo-{t2v,i2v}.md, kling-get-started-*.md,
  kling-updates-api.md).
- [SPEC] aself101/kling-api docs/specs/kling-api-2.0-migration-spec-v0_4_3.md §2.2 (vendor tables for
  kling-2.6 / kling-2.5-turbo) and its [LIVE] probes of 2026-09-20/22 (README "Errors, retries and
  recovery", "What has been verified live").
- [LEG] the legacy ``/v1/videos/text2video`` pages (model_name, mode, string durations), as quoted
  in the m-macmini kling-api docs capture (2026-03) and git.ai-impress.com obsidian note (2026-04-24);
  ``mode: 4k`` for kling-v3 from [UPD] 04/23/2026.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass

# [ERR]: HTTP status per business code.
HTTP_STATUS = {
    1000: 401,
    1001: 401,
    1002: 401,
    1003: 401,
    1004: 401,
    1100: 429,
    1101: 429,
    1102: 429,
    1103: 403,
    1200: 400,
    1201: 400,
    1202: 404,
    1203: 404,
    1300: 400,
    1301: 400,
    1302: 429,
    1303: 429,
    1304: 429,
    5000: 500,
    5001: 503,
    5002: 504,
}


class KlingRefusal(ValueError):
    """A request Kling refuses: business ``code`` (HTTP status from [ERR]) and its message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = HTTP_STATUS[code]


def invalid(message: str) -> KlingRefusal:
    # [ERR] 1201 "Invalid parameters, such as an incorrect key or invalid value" (HTTP 400)
    return KlingRefusal(1201, message)


@dataclass(frozen=True)
class PathModel:
    """One path model of the new standard and what its t2v/i2v settings accept."""

    resolutions: tuple[str, ...]
    durations: tuple[int, ...]
    audio: tuple[str, ...]  # () = no ``settings.audio`` field at all
    multi_shot: bool  # whether ``settings.multi_shot`` exists
    i2v_contents: tuple[str, ...]
    prompt_max: int  # t2v ``prompt``; i2v prompt text is capped by ``i2v_prompt_max``
    i2v_prompt_max: int
    audio_always: bool = False  # native audio with no field to turn it off


RANGE_3_15 = tuple(range(3, 16))
ASPECTS = ("16:9", "9:16", "1:1")  # [T3] [TT] settings.aspect_ratio (t2v only)
PATH_MODELS = {
    # [T3]: 720p/1080p/4k, 3-15 s int, audio native|off, multi_shot (default true), i2v contents
    # prompt/first_frame/last_frame/element, prompt <= 3072 characters.
    "kling-3.0": PathModel(
        ("720p", "1080p", "4k"),
        RANGE_3_15,
        ("native", "off"),
        True,
        ("prompt", "first_frame", "last_frame", "element"),
        3072,
        3072,
    ),
    # [TT]: 720p/1080p only (4k is not offered), 3-15 s, no audio field (native audio always on:
    # [SPEC] LIVE 2026-09-20, mp4 with an AAC track), i2v first frame only, i2v prompt <= 2500.
    "kling-3.0-turbo": PathModel(
        ("720p", "1080p"), RANGE_3_15, (), False, ("prompt", "first_frame"), 3072, 2500, True
    ),
    # [SPEC] §2.2 (vendor pages kling-2.6-{t2v,i2v}.md): 5|10 s; native audio only at 1080p.
    "kling-2.6": PathModel(
        ("720p", "1080p"), (5, 10), ("native", "off"), False, ("prompt", "first_frame"), 2500, 2500
    ),
    "kling-2.5-turbo": PathModel(
        ("720p", "1080p"), (5, 10), (), False, ("prompt", "first_frame", "last_frame"), 2500, 2500
    ),
}
TOP_KEYS = {"text-to-video": {"prompt", "settings", "options"}}
TOP_KEYS["image-to-video"] = {"contents", "settings", "options"}
OPTION_KEYS = {"callback_url", "external_task_id", "watermark_info"}

# [LEG] legacy ``model_name`` values still documented for text2video/image2video; kling-v1 answers
# "has been discontinued" ([SPEC] §0, LIVE 2026-09-20). kling-3.0-turbo has no legacy endpoint
# ([UPD] 06/17/2026: "The new API supports authentication via API Key only").
LEGACY_MODELS = {
    "kling-v1-5",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v2-6",
    "kling-v3",
}
LEGACY_MODES = ("std", "pro", "4k")  # 4k: kling-v3 only, [UPD] 04/23/2026

# Image inputs: [T3]/[TT] ".jpg/.jpeg/.png", "cannot exceed 50MB", ">= 300px", ratio 1:2.5..2.5:1;
# the legacy standard caps inline images at 10 MB ([LEG]; [SPEC] "Media inputs").
NEW_IMAGE_MAX = 50 * 1024 * 1024
LEGACY_IMAGE_MAX = 10 * 1024 * 1024


def check_settings(model: PathModel, settings: object, product: str) -> dict[str, object]:
    """Validate ``settings`` of a new-standard create; return it with the documented defaults."""
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        raise invalid("settings must be an object")
    allowed = {"resolution", "duration"}
    allowed |= {"aspect_ratio"} if product == "text-to-video" else set()
    allowed |= {"audio"} if model.audio else set()
    allowed |= {"multi_shot"} if model.multi_shot else set()
    unknown = sorted(set(settings) - allowed)
    if unknown:  # [ERR] 1201 "incorrect key"; UNCERTAIN whether every unknown key is refused
        raise invalid(f"settings.{unknown[0]} is not supported")
    resolution = settings.get("resolution", "720p")
    if resolution not in model.resolutions:
        raise invalid(f"settings.resolution must be one of {', '.join(model.resolutions)}")
    duration = settings.get("duration", 5)
    # documented as ``int``; UNCERTAIN whether "5" is coerced, refused here
    if not isinstance(duration, int) or isinstance(duration, bool):
        raise invalid("settings.duration must be an integer")
    if duration not in model.durations:
        raise invalid(f"settings.duration {duration} is not supported")
    if settings.get("aspect_ratio", "16:9") not in ASPECTS:
        raise invalid(f"settings.aspect_ratio must be one of {', '.join(ASPECTS)}")
    audio = settings.get("audio", "off")
    if model.audio and audio not in model.audio:
        raise invalid(f"settings.audio must be one of {', '.join(model.audio)}")
    if model is PATH_MODELS["kling-2.6"] and audio == "native" and resolution != "1080p":
        raise invalid("native audio requires 1080p")  # [SPEC] §2.2
    if "multi_shot" in settings and not isinstance(settings["multi_shot"], bool):
        raise invalid("settings.multi_shot must be a boolean")
    return {"resolution": resolution, "duration": duration, "audio": audio} | {
        "aspect_ratio": settings.get("aspect_ratio", "16:9")
    }


def check_options(options: object) -> str | None:
    """Validate ``options``; return the ``external_task_id`` (``None`` when absent or empty)."""
    if options is None:
        return None
    if not isinstance(options, dict):
        raise invalid("options must be an object")
    unknown = sorted(set(options) - OPTION_KEYS)
    if unknown:
        raise invalid(f"options.{unknown[0]} is not supported")
    if "callback_url" in options and not isinstance(options["callback_url"], str):
        raise invalid("options.callback_url must be a string")
    return external_id(options.get("external_task_id"))


def external_id(value: object) -> str | None:
    if value in (None, ""):  # the vendor's own examples send ""
        return None
    if not isinstance(value, str):
        raise invalid("external_task_id must be a string")
    return value


def image_size(value: object, limit: int, allow_data_uri: bool) -> tuple[int, int] | None:
    """Check an image given as a URL or Base64; its ``(width, height)`` when inline, else ``None``.

    URLs are accepted unchecked (the vendor fetches them; the emulator cannot).
    """
    if not isinstance(value, str) or not value:
        raise invalid("image is required")
    if value.startswith(("http://", "https://")):
        return None
    if value.startswith("data:"):
        # legacy: "do not add any prefix such as data:image/png;base64," [LEG]; new standard:
        # UNCERTAIN, accepted
        if not allow_data_uri:
            raise invalid("image Base64 must not carry a data: prefix")
        value = value.partition(",")[2]
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid("image is neither a URL nor valid Base64") from exc
    if len(data) > limit:
        raise invalid(f"image file cannot exceed {limit // (1024 * 1024)}MB")
    size = _dimensions(data)
    if size is None:
        raise invalid("image format must be .jpg, .jpeg or .png")
    width, height = size
    if min(width, height) < 300:
        raise invalid("image width and height must be at least 300px")
    if not 1 / 2.5 <= width / height <= 2.5:
        raise invalid("image aspect ratio must be between 1:2.5 and 2.5:1")
    return size


def _dimensions(data: bytes) -> tuple[int, int] | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_dimensions(data)
    return None


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        length = int.from_bytes(data[index + 2 : index + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return int(width), int(height)
        index += 2 + length
    return None


def nearest_aspect(size: tuple[int, int] | None) -> str:
    """The output aspect of an image-to-video task: the first frame's, snapped to a known one."""
    if size is None:
        return "16:9"
    ratio = size[0] / size[1]
    return min(ASPECTS, key=lambda name: abs(_ratio(name) - ratio))


def _ratio(name: str) -> float:
    width, _, height = name.partition(":")
    return int(width) / int(height)
