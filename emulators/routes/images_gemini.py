"""Gemini API image models: ``POST /v1beta/models/gemini-2.5-flash-image:generateContent``, and
Imagen 4's ``:predict``, which the Gemini API no longer serves. Registered before
``emulators.routes.google`` (whose ``/models/{model_action}`` serves the judge and Veo).

Rules and sources (checked 2026-12-05):
- Auth: an API key as ``x-goog-api-key`` or ``?key=``; without one 403 as ``emulators.routes.google``;
  a refused one (the scenario's ``invalid_keys``) 400 INVALID_ARGUMENT "API key not valid. Please
  pass a valid API key." with an ``ErrorInfo`` reason ``API_KEY_INVALID`` ([3P] the body as quoted
  by several integrators' tests, find_string 2026-12-05).
- [SDK] google-genai 3.6.1 (installed; 2.19.0 of 2026-08-21 agrees) ``types.py``: ``ImageConfig.aspect_ratio``
  "Supported values are 1:1, 2:3, 3:2, 3:4, 4:3, 9:16, 16:9, and 21:9" (another value: 400
  INVALID_ARGUMENT; the message wording is UNCERTAIN); ``Part.inline_data`` (``Blob``);
  ``FinishReason``; ``usageMetadata``. Pixels per aspect (1K): ``SIZES`` (Gemini image guide as
  remembered, UNCERTAIN); 1290 output tokens an image and 258 input tokens a reference image
  (ai.google.dev pricing via discuss.ai.google.dev/t/101173; the 258 is UNCERTAIN).
- More than 3 reference images: Google calls 3 the number that works best; no hard refusal was
  found (UNCERTAIN), so none here: the registry's ``reference_images: 3`` refuses before spend.
- A request body over 20 MB: 400 "Request payload size exceeds the limit: 20971520 bytes."
  (Google APIs' wording, 3P integrator logs; UNCERTAIN for this model).
- A refused prompt (scenario ``safety_refusal``): 200 with ``promptFeedback.blockReason``
  ``PROHIBITED_CONTENT`` and no candidates (``BlockedReason`` in the same types.py).
- Imagen: google-genai commit 43ef621f (2026-08-21) disables ``generate_images`` for the Gemini
  API; the models were shut down on 2026-08-17 (3P changelog in registry/models.yaml). ``:predict``
  answers 404 NOT_FOUND as the API does for a model it does not serve.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from adapters.images import Reference
from emulators.routes import _flow as flow
from emulators.routes._image_common import gate, picture
from emulators.wire import error_response, refused_key, respond

PROVIDER = "gemini"
router = APIRouter(prefix="/google/v1beta/models")
IMAGE_MODELS = ("gemini-2.5-flash-image",)
RETIRED = (
    "imagen-4.0-generate-001",
    "imagen-4.0-ultra-generate-001",
    "imagen-4.0-fast-generate-001",
)
SIZES = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}
MAX_BODY = 20 * 1024 * 1024
OUTPUT_TOKENS = 1290
REFERENCE_TOKENS = 258


def _authorized(request: Request) -> bool:
    return bool(request.headers.get("x-goog-api-key") or request.query_params.get("key"))


def auth_refusal(request: Request) -> Response | None:
    """403 without a key, 400 API_KEY_INVALID for a key the scenario refuses (rules above)."""
    if not _authorized(request):
        return error_response(PROVIDER, 403, "Method doesn't allow unregistered callers.")
    if refused_key(request) or request.query_params.get("key") in _invalid(request):
        error = {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            ],
        }
        return JSONResponse({"error": error}, status_code=400)
    return None


def _invalid(request: Request) -> list[str]:
    invalid: list[str] = flow.emulator(request).scenario.invalid_keys
    return invalid


def _references(body: dict[str, Any]) -> tuple[str, list[Reference]]:
    """The prompt text and the inline images of the request's contents."""
    texts: list[str] = []
    refs: list[Reference] = []
    for content in body.get("contents") or []:
        for part in (content or {}).get("parts") or [] if isinstance(content, dict) else []:
            if not isinstance(part, dict):
                continue
            if "text" in part:
                texts.append(str(part["text"]))
            inline = part.get("inlineData") or part.get("inline_data")
            if isinstance(inline, dict):
                # google-genai 3.6.1 _common.py sends bytes URL-safe base64-encoded; the API
                # takes both alphabets
                text = str(inline.get("data") or "").replace("-", "+").replace("_", "/")
                try:
                    data = base64.b64decode(text, validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise flow.BadRequest(f"Invalid value at 'contents[0].parts': {exc}") from exc
                refs.append(Reference(data, str(inline.get("mimeType") or inline.get("mime_type"))))
    return " ".join(texts), refs


def _aspect(body: dict[str, Any]) -> str:
    config = body.get("generationConfig") or {}
    aspect = str((config.get("imageConfig") or {}).get("aspectRatio") or "1:1")
    if aspect not in SIZES:
        raise flow.BadRequest(
            f"Invalid value at 'generation_config.image_config.aspect_ratio' ({aspect!r}): "
            f"supported values are {', '.join(SIZES)}."
        )
    return aspect


async def generate(model: str, request: Request) -> Response:
    refused = auth_refusal(request)
    if refused is not None:
        return refused
    raw = await request.body()
    if len(raw) > MAX_BODY:
        message = f"Request payload size exceeds the limit: {MAX_BODY} bytes."
        return error_response(PROVIDER, 400, message)
    try:
        _, body = await flow.json_body(request)
        prompt, refs = _references(body)
        aspect = _aspect(body)
    except flow.BadRequest as exc:
        return error_response(PROVIDER, 400, str(exc))
    gated = await gate(request, PROVIDER, model, raw, prompt)
    if gated.response is not None:
        return gated.response
    prompt_tokens = len(prompt) // 4 + 1
    details = [{"modality": "TEXT", "tokenCount": prompt_tokens}]
    if refs:
        details.append({"modality": "IMAGE", "tokenCount": REFERENCE_TOKENS * len(refs)})
    usage = {
        "promptTokenCount": prompt_tokens + REFERENCE_TOKENS * len(refs),
        "promptTokensDetails": details,
        "candidatesTokenCount": 0 if gated.refused else OUTPUT_TOKENS,
    }
    if gated.refused:
        return respond(
            {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": usage}
        )
    width, height = SIZES[aspect]
    image = base64.b64encode(picture(prompt, width, height, None, refs)).decode()
    candidate = {
        "content": {
            "role": "model",
            "parts": [{"inlineData": {"mimeType": "image/png", "data": image}}],
        },
        "finishReason": "STOP",
        "index": 0,
    }
    answer = {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model}
    return respond(answer, gated.fault)


async def retired(model: str, request: Request) -> Response:
    refused = auth_refusal(request)
    if refused is not None:
        return refused
    message = (
        f"models/{model} is not found for API version v1beta, or is not supported for predict."
        " Call ListModels to see the list of available models and their supported methods."
    )
    return error_response(PROVIDER, 404, message)


def _bind(handler: Any, model: str) -> Any:
    async def bound(request: Request) -> Response:
        result: Response = await handler(model, request)
        return result

    return bound


for _model in IMAGE_MODELS:
    router.add_api_route(f"/{_model}:generateContent", _bind(generate, _model), methods=["POST"])
for _model in RETIRED:
    router.add_api_route(f"/{_model}:predict", _bind(retired, _model), methods=["POST"])
