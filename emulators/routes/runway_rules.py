"""What Runway's ``/v1/text_to_video`` and ``/v1/image_to_video`` refuse, per model.

Sources (each rule below names the one it comes from):
- [SDK] runwayml 5.24.0 ``types/text_to_video_create_params.py`` and
  ``types/image_to_video_create_params.py``: model ids, required fields, ratio and duration literals.
- [INPUTS] docs.dev.runwayml.com/assets/inputs (seen 2026-12-04): data URI image limit 5 MB.
- [ERRORS] docs.dev.runwayml.com/errors/errors: 400 with a JSON ``error`` member, no retry.
- [SKILL] runwayml/skills ``skills/rw-api-reference/SKILL.md`` (Runway's own, 2026-08): credits
  per second (gen4.5 12, gen4_turbo 5, veo3.1 20-40, veo3.1_fast 10-15).

Only the four models the registry routes to are modelled field by field; the other SDK model ids
are accepted with a lenient check (UNCERTAIN: their per-model rules are not emulated).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

# [SDK] the ``model`` literals of TextToVideoCreateParams / ImageToVideoCreateParams (5.24.0);
# gen4_turbo is image_to_video only, veo3 is no longer in either union.
_OTHER_MODELS = (
    "klingO3_4k",
    "hailuo3",
    "kling3.0_4k",
    "happyhorse_1_0",
    "kling2.5_turbo_pro",
    "kling3.0_pro",
    "kling3.0_standard",
    "klingO3_pro",
    "klingO3_standard",
    "seedance2",
    "seedance2_fast",
    "seedance2_mini",
    "gemini_omni_flash",
    "grok_imagine_1_5",
    "wan3",
    "gemini_omni_flash_1.1",
    "wan3_prime",
    "h3_max",
    "seedance2_5",
    "grok_imagine_1_5_lite",
    "kling_4",
)
TEXT_MODELS = ("gen4.5", "veo3.1", "veo3.1_fast", *_OTHER_MODELS)
IMAGE_MODELS = ("gen4.5", "gen4_turbo", "veo3.1", "veo3.1_fast", *_OTHER_MODELS)

_GEN4_IMAGE_RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
_VEO_RATIOS = ("1280:720", "720:1280", "1080:1920", "1920:1080")
DATA_URI_LIMIT = 5 * 1024 * 1024  # [INPUTS] "5MB"; MiB vs MB and encoded vs decoded UNCERTAIN
PROMPT_LIMIT = 1000  # [SDK] "up to 1000 characters (measured in UTF-16 code units)"


@dataclass(frozen=True)
class ModelRule:
    """One modelled model on one endpoint, as its SDK params TypedDict declares it."""

    ratios: tuple[str, ...]
    durations: tuple[int, ...]
    duration_required: bool
    prompt_required: bool
    positions: tuple[str, ...]
    audio: bool
    credits_per_s: float
    credits_per_s_audio: float | None = None


def _gen45(ratios: tuple[str, ...], positions: tuple[str, ...]) -> ModelRule:
    return ModelRule(ratios, tuple(range(2, 11)), True, True, positions, False, 12)


def _veo(image: bool, rate: float, rate_audio: float) -> ModelRule:
    positions = ("first", "last") if image else ()
    return ModelRule(_VEO_RATIOS, (4, 6, 8), False, not image, positions, True, rate, rate_audio)


RULES: dict[tuple[str, bool], ModelRule] = {
    # [SDK] Gen4_5 (text): duration Required int 2..10, promptText Required, ratio 1280:720|720:1280
    ("gen4.5", False): _gen45(("1280:720", "720:1280"), ()),
    # [SDK] Gen4_5 (image): the six gen4 ratios, promptImage position "first" only
    ("gen4.5", True): _gen45(_GEN4_IMAGE_RATIOS, ("first",)),
    # [SDK] Gen4Turbo: duration a plain int (2..10 per [SKILL], UNCERTAIN), promptText optional
    ("gen4_turbo", True): ModelRule(
        _GEN4_IMAGE_RATIOS, tuple(range(2, 11)), False, False, ("first",), False, 5
    ),
    # [SDK] Veo3_1 / Veo3_1Fast: duration Literal[4, 6, 8] optional, audio bool, first|last frame;
    # promptText Required on text_to_video, optional on image_to_video; [SKILL] credits
    ("veo3.1", False): _veo(False, 20, 40),
    ("veo3.1", True): _veo(True, 20, 40),
    ("veo3.1_fast", False): _veo(False, 10, 15),
    ("veo3.1_fast", True): _veo(True, 10, 15),
}
DEFAULT_DURATION = {"veo3.1": 8, "veo3.1_fast": 8, "gen4_turbo": 5}  # UNCERTAIN defaults


class Refused(ValueError):
    """Runway answers 400 ``{"error": message}`` ([ERRORS])."""


def known(model: str, image: bool) -> bool:
    return model in (IMAGE_MODELS if image else TEXT_MODELS)


def check(model: str, body: dict[str, Any], image: bool) -> ModelRule | None:
    """Raise ``Refused`` for what Runway refuses; the rule for modelled models, else ``None``."""
    endpoint = "image_to_video" if image else "text_to_video"
    if not known(model, image):
        raise Refused(f"Invalid model {model!r} for /v1/{endpoint}")
    rule = RULES.get((model, image))
    _check_prompt(body.get("promptText"), rule is not None and rule.prompt_required)
    if image:
        _check_prompt_image(body.get("promptImage"), rule.positions if rule else None)
    if rule is None:
        return None  # UNCERTAIN: per-model rules of the other SDK models are not emulated
    ratio = body.get("ratio")
    if ratio not in rule.ratios:
        raise Refused(f"ratio must be one of {', '.join(rule.ratios)} for {model}, got {ratio!r}")
    _check_duration(body, rule, model)
    if "audio" in body and not isinstance(body["audio"], bool):
        raise Refused("audio must be a boolean")
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise Refused("seed must be an integer")
    return rule


def _check_duration(body: dict[str, Any], rule: ModelRule, model: str) -> None:
    if "duration" not in body:
        if rule.duration_required:
            raise Refused("duration is required")
        return
    duration = body["duration"]
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise Refused(f"duration must be an integer, got {duration!r}")
    if duration not in rule.durations:
        allowed = ", ".join(str(d) for d in rule.durations)
        raise Refused(f"duration must be one of {allowed} for {model}, got {duration}")


def _check_prompt(text: Any, required: bool) -> None:
    if text is None:
        if required:
            raise Refused("promptText is required")
        return
    if not isinstance(text, str) or not text:
        raise Refused("promptText must be a non-empty string")
    if len(text.encode("utf-16-le")) // 2 > PROMPT_LIMIT:
        raise Refused(f"promptText must be at most {PROMPT_LIMIT} UTF-16 code units")


def _check_prompt_image(value: Any, positions: tuple[str, ...] | None) -> None:
    """[SDK] ``promptImage``: a URI string, or ``[{uri, position}]`` with the model's positions."""
    if value is None:
        raise Refused("promptImage is required")
    if isinstance(value, str):
        check_uri(value)
        return
    if not isinstance(value, list) or not value:
        raise Refused("promptImage must be a URI or a non-empty array of {uri, position}")
    seen: list[str] = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("uri"), str):
            raise Refused("promptImage[] items need a uri")
        position = item.get("position")
        if positions is not None and position not in positions:
            raise Refused(f"promptImage position must be one of {positions}, got {position!r}")
        check_uri(item["uri"])
        seen.append(str(position))
    if positions is not None and "first" not in seen:
        # [SDK] Veo3_1: "This model does not support generating with only a last frame."
        raise Refused("a last frame needs a first frame")


def check_uri(uri: str) -> None:
    """[SDK]/[INPUTS]: an HTTPS URL, a ``runway://`` upload URI, or a base64 data URI <= 5 MB."""
    if uri.startswith("data:"):
        header, _, payload = uri.partition(",")
        if not header.endswith(";base64") or not header[5:].startswith("image/"):
            raise Refused("data URIs must be base64-encoded images")
        if len(uri) > DATA_URI_LIMIT:
            raise Refused("data URI exceeds the 5MB limit; use an upload or a URL")
        try:
            base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Refused("data URI is not valid base64") from exc
        return
    if uri.startswith(("https://", "runway://")):
        return
    raise Refused("image URIs must be HTTPS URLs, runway:// upload URIs or data URIs")


def credits(rule: ModelRule | None, duration_s: float, audio: bool) -> int:
    """[SKILL] the credit cost of a task (what ``cost.credits`` reports when fully charged)."""
    if rule is None:
        return 0
    rate = rule.credits_per_s_audio if audio and rule.credits_per_s_audio else rule.credits_per_s
    return round(rate * duration_s)
