"""Gemini image models (Gemini 2.5 Flash Image) through the Gemini API's ``generateContent``:
``POST {base}/models/{model}:generateContent`` with ``x-goog-api-key``, the prompt and each
reference as ``inline_data`` parts, ``generationConfig.responseModalities: ["IMAGE"]`` and
``generationConfig.imageConfig.aspectRatio``.

Shapes from google-genai 3.6.1 (installed; 2.19.0 of 2026-08-21 agrees) ``types.py``: ``Part.inline_data``
(``Blob{mime_type, data}``, camelCase ``inlineData{mimeType, data}`` on the wire), ``ImageConfig``
(aspect ratios 1:1, 2:3, 3:2, 3:4, 4:3, 9:16, 16:9, 21:9), ``FinishReason`` (``IMAGE_SAFETY``,
``IMAGE_PROHIBITED_CONTENT``, ``NO_IMAGE``...), ``BlockedReason`` for ``promptFeedback``, and
``usageMetadata`` {promptTokenCount, candidatesTokenCount, promptTokensDetails[{modality,
tokenCount}]}. A blocked prompt or image is a safety refusal; an answer with text only (the
model declined to draw) is a provider failure naming its text. No negative prompt, no seed.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import httpx

from adapters._http import HttpClient, decode_object, synchronous_generation
from adapters.errors import ProviderError, ProviderFailureError, SafetyRefusalError, answer_shape
from adapters.images import ImageRequest, ImageResult, measured, refuse_unsupported

BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
SAFETY_REASONS = frozenset(
    {
        "SAFETY",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "MODEL_ARMOR",
        "JAILBREAK",
    }
)


def gemini_body(request: ImageRequest) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": request.prompt}]
    for ref in request.references:
        encoded = base64.b64encode(ref.data).decode()
        parts.append({"inlineData": {"mimeType": ref.mime, "data": encoded}})
    config: dict[str, Any] = {"responseModalities": ["IMAGE"]}
    if request.aspect:
        config["imageConfig"] = {"aspectRatio": request.aspect}
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": parts}]}
    body["generationConfig"] = config | dict(request.params)
    return body


def _usage(meta: dict[str, Any]) -> dict[str, float]:
    image_in = sum(
        int(d.get("tokenCount") or 0)
        for d in meta.get("promptTokensDetails") or []
        if isinstance(d, dict) and d.get("modality") == "IMAGE"
    )
    prompt = int(meta.get("promptTokenCount") or 0)
    return {
        "images": 1.0,
        "input_tokens": float(prompt - image_in),
        "image_input_tokens": float(image_in),
        "output_tokens": float(meta.get("candidatesTokenCount") or 0),
    }


def gemini_http(
    api_key: str, base_url: str | None, timeout: float, transport: httpx.BaseTransport | None
) -> HttpClient:
    """The Gemini API's client, its key sent as ``x-goog-api-key`` (images and chat drafts)."""
    return HttpClient(
        "gemini",
        base_url or BASE_URL,
        {"x-goog-api-key": api_key},
        timeout=timeout,
        transport=transport,
    )


class GeminiImageClient:
    provider = "gemini"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 120.0,
    ) -> None:
        self._http = gemini_http(api_key, base_url, timeout, transport)

    def generate(self, request: ImageRequest) -> ImageResult:
        refuse_unsupported(request, self.provider, seed=False)
        path = f"/models/{request.model}:generateContent"
        with synchronous_generation():
            answer = self._http.call("POST", path, json=gemini_body(request))
        try:  # the API answered 200: it billed the call, whatever the answer holds
            data = decode_object(self.provider, answer)
            with answer_shape(self.provider, data):
                return self._answer(data, request)
        except ProviderError as exc:
            exc.generated()
            raise

    def _answer(self, data: dict[str, Any], request: ImageRequest) -> ImageResult:
        """The image in a 200 answer; a block in its body is a safety refusal."""
        blocked = (data.get("promptFeedback") or {}).get("blockReason")
        if blocked:
            raise SafetyRefusalError(f"prompt blocked: {blocked}", self.provider, data)
        candidates = data.get("candidates") or []
        first = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
        reason = str(first.get("finishReason") or "")
        if reason in SAFETY_REASONS:
            raise SafetyRefusalError(f"image refused: {reason}", self.provider, data)
        parts = (first.get("content") or {}).get("parts") or []
        inline = next(
            (p["inlineData"] for p in parts if isinstance(p, dict) and "inlineData" in p), None
        )
        if inline is None:
            said = " ".join(
                str(p.get("text")) for p in parts if isinstance(p, dict) and p.get("text")
            )
            raise ProviderFailureError(
                f"no image in the answer ({reason or 'no finishReason'}): {said[:200]}",
                self.provider,
                data,
            )
        try:
            text = str(inline.get("data") or "").replace("-", "+").replace("_", "/")
            image = base64.b64decode(text, validate=True)  # either base64 alphabet
        except (binascii.Error, ValueError) as exc:
            raise ProviderFailureError("inlineData.data is not base64", self.provider) from exc
        width, height, mime = measured(image, self.provider, data)
        usage = _usage(data.get("usageMetadata") or {})
        raw = {k: v for k, v in data.items() if k != "candidates"}
        return ImageResult(
            image, mime, width, height, usage, self.provider, request.model, None, raw
        )

    def close(self) -> None:
        self._http.close()
