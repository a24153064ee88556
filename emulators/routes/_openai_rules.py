"""What OpenAI's ``POST /v1/videos`` refuses, and how it says so.

Sources (checked 2026-12-04):
- [SDK] openai 3.60.0 ``types/video_create_params.py``, ``video_model_param.py``,
  ``video_seconds.py``, ``video_size.py``, ``image_input_reference_param.py``.
- [3P] error strings quoted from the live API by integrators: "Invalid value: '15'. Supported values
  are: '4', '8', and '12'." / "Invalid value: '1080x1080'. Supported values are: '720x1280', ..." /
  "Invalid value: 'sora-1-turbo'. Supported values are: 'sora-2' and 'sora-2-pro'." / "Unknown
  parameter: 'width'." (Sora API test notes, 2025-10-21); "Invalid type for 'seconds': expected one
  of '4', '8', or '12', but got an integer instead." (THU-MAIC/OpenMAIC#98, 2026-03-21); "Inpaint
  image must match the requested width and height" (apiyi help page; several integrators).
  Error envelope ``{"error": {message, type, param, code}}`` with ``code`` ``invalid_value`` /
  ``invalid_type`` / ``unknown_parameter`` as the API sends for other endpoints' enum errors.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from fastapi.responses import JSONResponse

# [SDK] openai 3.60.0 types/video_model_param.py (the literals; the type also admits any str, but
# the API answers "Invalid value" for ids it does not serve [3P] above). The snapshots stay known so
# that a gateway speaking this wire can be emulated; OpenAI itself shut them all down on 2026-09-24.
MODELS = ("sora-2", "sora-2-pro", "sora-2-2025-10-06", "sora-2-pro-2025-10-06", "sora-2-2025-12-08")
SECONDS = ("4", "8", "12")  # [SDK] types/video_seconds.py
SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")  # [SDK] types/video_size.py
FIELDS = ("prompt", "model", "seconds", "size", "input_reference")  # [SDK] video_create_params.py
# UNCERTAIN: docs and 3P say sora-2 renders only 720x1280/1280x720 and the 1024p sizes are pro-only,
# but one integrator reports that sora-2 + 1792x1024 passes create validation and the job then
# fails; the SDK advertises all four sizes for every model. Kept lenient: every model takes SIZES.
UNAUTHENTICATED = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)


class Refused(ValueError):
    """A create the API refuses: 400 with an ``invalid_request_error``."""

    def __init__(self, message: str, param: str | None, code: str | None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code

    def response(self) -> JSONResponse:
        return invalid_request(400, str(self), self.param, self.code)


def invalid_request(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return JSONResponse({"error": error}, status_code=status)


def _choices(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) == 2:
        return f"{quoted[0]} and {quoted[1]}"
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def _enum(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        kind = "an integer" if isinstance(value, int) else f"a {type(value).__name__}"
        expected = ", ".join(f"'{v}'" for v in allowed[:-1]) + f", or '{allowed[-1]}'"
        message = f"Invalid type for '{name}': expected one of {expected}, but got {kind} instead."
        raise Refused(message, name, "invalid_type")
    if value not in allowed:
        message = f"Invalid value: '{value}'. Supported values are: {_choices(allowed)}."
        raise Refused(message, name, "invalid_value")
    return value


@dataclass(frozen=True)
class VideoCreate:
    prompt: str
    model: str
    seconds: int
    width: int
    height: int
    reference: bytes | None


def parse_create(form: dict[str, Any], extra_models: frozenset[str]) -> VideoCreate:
    """Validate a create body (multipart fields, or JSON) as the API does.

    ``extra_models`` are the models an emulator scenario declares (the emulator's hook for
    synthetic test models); they are served like the SDK's own model ids.
    """
    for name in form:
        if name not in FIELDS:
            raise Refused(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    prompt = form.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        message = "Missing required parameter: 'prompt'."
        raise Refused(message, "prompt", "missing_required_parameter")
    model = form.get("model", "sora-2")  # [SDK] "Defaults to `sora-2`."
    if model not in extra_models and model not in MODELS:
        _enum("model", model, ("sora-2", "sora-2-pro"))
    seconds = _enum("seconds", form.get("seconds", "4"), SECONDS)  # [SDK] default 4
    size = _enum("size", form.get("size", "720x1280"), SIZES)  # [SDK] default 720x1280
    width, _, height = size.partition("x")
    reference = _reference(form.get("input_reference"))
    if reference is not None:
        _same_size(reference, int(width), int(height))
    return VideoCreate(prompt, str(model), int(seconds), int(width), int(height), reference)


def _reference(value: Any) -> bytes | None:
    """The reference image bytes: a file part, or (SDK 3.60.0 ``ImageInputReferenceParam``) an
    object with ``image_url`` (URL or data URL) or ``file_id``."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict) and set(value) <= {"image_url", "file_id"} and value:
        url = value.get("image_url")
        if isinstance(url, str) and url.startswith("data:"):
            try:
                return base64.b64decode(url.partition(",")[2], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise Refused("Invalid base64 image_url.", "input_reference", None) from exc
        return None  # a remote URL or a file id: not fetched here, so not checked (lenient)
    # [3P] a plain string part is refused ("expected a file, got a string", several integrators)
    message = "Invalid type for 'input_reference': expected a file, but got a string instead."
    raise Refused(message, "input_reference", "invalid_type")


def _same_size(data: bytes, width: int, height: int) -> None:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        # UNCERTAIN: the API's wording for an undecodable upload is not documented
        raise Refused("Invalid input_reference: not a supported image.", "input_reference", None)
    if image.shape[1] != width or image.shape[0] != height:
        # [3P] the code/param of this error are not quoted anywhere: UNCERTAIN
        message = "Inpaint image must match the requested width and height"
        raise Refused(message, "input_reference", None)
