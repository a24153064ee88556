"""OpenAI Images emulation: ``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits``
(multipart with ``image[]`` parts), for the GPT image models.

Rules and sources (checked 2026-12-05):
- [SDK] openai 3.60.0 (the installed SDK; 3.3.1 of 2026-08-21 agrees but for the model list)
  ``types/image_model.py``: the model ids, and "GPT Image 1 was shut down on October 23, 2026",
  dall-e-2/3 "retired on May 12, 2026"; ``image_generate_params.py`` / ``image_edit_params.py``:
  prompt "maximum length is 32000 characters", ``n`` "between 1 and 10", ``size`` the standard
  1024x1024 / 1536x1024 / 1024x1536 / auto, and for the gpt-image-2 family any ``WxH`` with both
  sides divisible by 16, aspect between 1:3 and 3:1, at most 3840x2160; ``quality`` low / medium
  / high / auto, ``output_format`` png / jpeg / webp; edits: "up to 16 images", each "less than
  50MB", png / webp / jpg. ``images_response.py``: ``data[].b64_json`` and ``usage``.
- [SDK] the same files' top-level fields (``GENERATE_FIELDS``, ``EDIT_FIELDS``); a field outside
  them is 400 ``unknown_parameter`` "Unknown parameter: 'X'." as the API answers the legacy
  ``response_format`` ("Unsupported for GPT image models": [3P] vercel/ai#6102, 2025-05-01,
  gpt-image-1; lofcz/LLMTornado#155, 2026-02-26, gpt-image-1-mini; basketikun/infinite-canvas#85,
  2026-07-01, gpt-image-2); ``style`` (likewise "Unsupported for GPT image models") is assumed to
  be refused the same way (UNCERTAIN). ``quality`` ``xhigh`` / ``max`` only for the
  gpt-image-2.5 models ([SDK] image_generate_params.py; the refusal's wording UNCERTAIN).
- [3P] a shut-down model: 404 ``model_not_found`` "The model `X` does not exist or you do not
  have access to it." (OpenAI's wording for any model it does not serve, quoted widely).
- Error envelope and wording: as ``_openai_rules`` (``invalid_value``, "Missing required
  parameter"); the string/integer bound messages are the API's generic validation wording
  (``string_above_max_length``, ``integer_above_max_value``), UNCERTAIN for this endpoint.
- [GUIDE] OpenAI's image-generation guide (developers.openai.com/api/docs/guides/image-generation,
  a stored copy read 2026-12-07), "Size and quality options": gpt-image-2's "Total pixels must be
  at least 655,360 and no more than 8,294,400" (the SDK names no floor: "the model's current pixel
  and edge limits"); "Handling blocked requests": ``error.type = "image_generation_user_error"``,
  ``error.code = "moderation_blocked"`` and an optional ``error.moderation_details``
  (``moderation_stage``: input | output | unknown, ``categories``). The message is [3P]'s "Your
  request was rejected as a result of our safety system. ..." (an image gateway mirroring OpenAI's
  body, find_string 2026-12-05); the wording of the too-few-pixels refusal is UNCERTAIN.
- Output tokens (1024x1024 low 272, medium 1056, high 4160; 1536 sizes 1.5x): the OpenAI
  community pricing thread (see registry/models.yaml); reference images cost
  ``REFERENCE_TOKENS`` each here (UNCERTAIN: the API's image-token count is not published).
"""

from __future__ import annotations

import base64
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from adapters.images import Reference
from emulators.routes import _flow as flow
from emulators.routes import _openai_rules as rules
from emulators.routes._image_common import gate, picture
from emulators.wire import refused_key, respond

PROVIDER = "openai"
router = APIRouter(prefix="/openai/v1/images")
ANY_SIZE = (
    "gpt-image-2",
    "gpt-image-2-2026-04-21",
    "gpt-image-2.5-sunburst",
    "gpt-image-2.5-sunburst-2026-09-08",
    "gpt-image-2.5-flare",
    "gpt-image-2.5-flare-2026-09-08",
)
MODELS = (*ANY_SIZE, "gpt-image-2.6-sunburst", "gpt-image-2.6-flare", "gpt-image-1.5",
          "gpt-image-1-mini", "chatgpt-image-latest")  # fmt: skip
TOP_QUALITY = ANY_SIZE[2:]  # the gpt-image-2.5 models: also xhigh and max
_COMMON_FIELDS = (
    "prompt", "background", "complexity", "frame_count", "frame_duration_ms", "model", "n",
    "output_compression", "output_format", "partial_images", "quality", "safety_identifier",
    "size", "svg", "user", "stream",
)  # fmt: skip
GENERATE_FIELDS = frozenset((*_COMMON_FIELDS, "moderation"))
EDIT_FIELDS = frozenset((*_COMMON_FIELDS, "image", "image[]", "mask", "input_fidelity", "markup"))
LEGACY_FIELDS = ("response_format", "style")  # "Unsupported for GPT image models"
SHUT_DOWN = ("gpt-image-1", "dall-e-2", "dall-e-3")
SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
MAX_PIXELS = 3840 * 2160
MIN_PIXELS = 655_360  # [GUIDE]
QUALITIES = ("low", "medium", "high", "auto")
FORMATS = ("png", "jpeg", "webp")
MAX_PROMPT = 32_000
MAX_N = 10
MAX_IMAGES = 16
MAX_IMAGE_BYTES = 50 * 1024 * 1024
IMAGE_TYPES = ("image/png", "image/webp", "image/jpeg")
OUTPUT_TOKENS = {"low": 272, "medium": 1056, "high": 4160}
REFERENCE_TOKENS = 323
SAFETY = (
    "Your request was rejected as a result of our safety system. Your request may contain "
    "content that is not allowed by our safety system."
)


def _blocked() -> JSONResponse:
    """A prompt the safety system refused ([GUIDE]): refused at its input."""
    error = {"message": SAFETY, "type": "image_generation_user_error", "param": None,
             "code": "moderation_blocked",
             # the stage and category are this emulator's choice (the guide's example names
             # "harassment"; which category a refused prompt gets is UNCERTAIN)
             "moderation_details": {"moderation_stage": "input", "categories": ["violence"]}}  # fmt: skip
    return JSONResponse({"error": error}, status_code=400)


def _auth(request: Request) -> Response | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return rules.invalid_request(401, rules.UNAUTHENTICATED)
    if refused_key(request):
        return rules.invalid_request(401, "Incorrect API key provided.", code="invalid_api_key")
    return None


def _int(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise rules.Refused(
            f"Invalid type for '{name}': expected an integer.", name, "invalid_type"
        )
    if value < low:
        message = f"Invalid '{name}': integer below minimum value. Expected a value >= {low}, but got {value} instead."
        raise rules.Refused(message, name, "integer_below_min_value")
    if value > high:
        message = f"Invalid '{name}': integer above maximum value. Expected a value <= {high}, but got {value} instead."
        raise rules.Refused(message, name, "integer_above_max_value")
    return value


class ModelNotFound(rules.Refused):
    def __init__(self, model: str) -> None:
        message = f"The model `{model}` does not exist or you do not have access to it."
        super().__init__(message, None, "model_not_found")

    def response(self) -> JSONResponse:
        return rules.invalid_request(404, str(self), self.param, self.code)


def _size(value: Any, any_size: bool) -> str:
    """The standard sizes; for the gpt-image-2 family any ``WxH`` within [SDK]'s rules (the
    refusal's wording is UNCERTAIN: not quoted anywhere found)."""
    if not any_size or value in SIZES or not isinstance(value, str):
        return str(rules._enum("size", value, SIZES))
    w, _, h = value.partition("x")
    if not (w.isdigit() and h.isdigit()) or not int(w) or not int(h):
        rules._enum("size", value, SIZES)
    width, height = int(w), int(h)
    if width % 16 or height % 16:
        why = "width and height must both be divisible by 16"
    elif max(width, height) > 3 * min(width, height):
        why = "the aspect ratio must be between 1:3 and 3:1"
    elif max(width, height) > 3840 or width * height > MAX_PIXELS:
        why = "the maximum supported resolution is 3840x2160"
    elif width * height < MIN_PIXELS:
        why = f"the total pixel count must be at least {MIN_PIXELS:,}"
    else:
        return value
    raise rules.Refused(f"Invalid size '{value}': {why}.", "size", "invalid_value")


def parse(
    body: dict[str, Any], models: frozenset[str], fields: frozenset[str] = GENERATE_FIELDS
) -> dict[str, Any]:
    """The checked request (``prompt``, ``model``, ``n``, ``size``, ``quality``, ``format``);
    ``fields``: the endpoint's parameters ([SDK])."""
    for name in body:
        if name not in fields or name in LEGACY_FIELDS:
            raise rules.Refused(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise rules.Refused(
            "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
        )
    if len(prompt) > MAX_PROMPT:
        message = (
            f"Invalid 'prompt': string too long. Expected a string with maximum length "
            f"{MAX_PROMPT}, but got a string with length {len(prompt)} instead."
        )
        raise rules.Refused(message, "prompt", "string_above_max_length")
    model = str(body.get("model", "gpt-image-1.5"))  # [SDK] edits: "Defaults to gpt-image-1.5"
    if model in SHUT_DOWN:
        raise ModelNotFound(model)
    if model not in MODELS and model not in models:
        rules._enum("model", model, MODELS)
    n = _int(body, "n", 1, 1, MAX_N)
    size = _size(body.get("size", "auto"), model in ANY_SIZE)
    qualities = QUALITIES + (("xhigh", "max") if model in TOP_QUALITY else ())
    quality = rules._enum("quality", body.get("quality", "auto"), qualities)
    fmt = rules._enum("output_format", body.get("output_format", "png"), FORMATS)
    size = "1024x1024" if size == "auto" else size
    quality = "medium" if quality == "auto" else quality
    return {
        "prompt": prompt,
        "model": model,
        "n": n,
        "size": size,
        "quality": quality,
        "format": fmt,
    }


def _output_tokens(quality: str, width: int, height: int) -> int:
    """gpt-image-1's table scaled by area (1536x1024: 1.5x, as the table); UNCERTAIN for the
    gpt-image-2 family, whose token counts are not published; xhigh and max count as high)."""
    return round(OUTPUT_TOKENS.get(quality, OUTPUT_TOKENS["high"]) * width * height / 1024**2)


async def _answer(
    request: Request, raw: bytes, checked: dict[str, Any], refs: list[Reference]
) -> Response:
    gated = await gate(request, PROVIDER, checked["model"], raw, checked["prompt"])
    if gated.response is not None:
        return gated.response
    if gated.refused:
        return _blocked()
    width, _, height = checked["size"].partition("x")
    mime = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}[checked["format"]]
    images = [
        {"b64_json": _b64(picture(checked["prompt"], int(width), int(height), i, refs, mime))}
        for i in range(checked["n"])
    ]
    text_tokens = len(checked["prompt"]) // 4 + 1
    image_tokens = REFERENCE_TOKENS * len(refs)
    output = _output_tokens(checked["quality"], int(width), int(height)) * checked["n"]
    usage = {
        "input_tokens": text_tokens + image_tokens,
        "input_tokens_details": {"image_tokens": image_tokens, "text_tokens": text_tokens},
        "output_tokens": output,
        "total_tokens": text_tokens + image_tokens + output,
    }
    body = {
        "created": int(time.time()),
        "data": images,
        "background": "opaque",
        "output_format": checked["format"],
        "quality": checked["quality"],
        "size": checked["size"],
        "usage": usage,
    }
    return respond(body, gated.fault)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@router.post("/generations")
async def generations(request: Request) -> Response:
    refused = _auth(request)
    if refused is not None:
        return refused
    try:
        raw, body = await flow.json_body(request)
        checked = parse(body, frozenset(flow.emulator(request).scenario.models))
    except flow.BadRequest as exc:
        return rules.invalid_request(400, str(exc))
    except rules.Refused as exc:
        return exc.response()
    return await _answer(request, raw, checked, [])


@router.post("/edits")
async def edits(request: Request) -> Response:
    refused = _auth(request)
    if refused is not None:
        return refused
    form = await request.form()
    fields: dict[str, Any] = {}
    refs: list[Reference] = []
    for name, value in form.multi_items():
        if isinstance(value, str):
            fields[name] = value
        elif name in ("image", "image[]"):
            refs.append(Reference(await value.read(), value.content_type or ""))
    try:
        checked = parse(fields, frozenset(flow.emulator(request).scenario.models), EDIT_FIELDS)
        _check_images(refs)
    except rules.Refused as exc:
        return exc.response()
    raw = "&".join(f"{k}={v}" for k, v in sorted(fields.items())).encode()
    raw += b"".join(r.data[:64] for r in refs)
    return await _answer(request, raw, checked, refs)


def _check_images(refs: list[Reference]) -> None:
    """[SDK] image_edit_params.py: 1..16 images, png/webp/jpg, each under 50 MB. The wording of
    these three refusals is UNCERTAIN (not quoted anywhere found)."""
    if not refs:
        raise rules.Refused(
            "Missing required parameter: 'image'.", "image", "missing_required_parameter"
        )
    if len(refs) > MAX_IMAGES:
        message = (
            f"Invalid 'image': too many images. Expected at most {MAX_IMAGES}, but got {len(refs)}."
        )
        raise rules.Refused(message, "image", "array_above_max_length")
    for index, ref in enumerate(refs):
        if ref.mime not in IMAGE_TYPES:
            message = f"Invalid file 'image[{index}]': unsupported mimetype ('{ref.mime}'). Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'."
            raise rules.Refused(message, "image", "unsupported_file_mimetype")
        if len(ref.data) >= MAX_IMAGE_BYTES:
            raise rules.Refused(
                f"Invalid file 'image[{index}]': file too large (limit 50MB).", "image", None
            )
