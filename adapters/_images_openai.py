"""OpenAI Images: ``POST /v1/images/generations`` (JSON) and, with reference images,
``POST /v1/images/edits`` (multipart, one ``image[]`` part per reference).

Wire (openai 3.60.0, the installed SDK; 3.3.1 of 2026-08-21 agrees): ``types/image_generate_params.py``
and ``image_edit_params.py`` (prompt, model, n, size, quality, output_format; up to 16 images
for the GPT image models, each under 50 MB; any ``WxH`` for the gpt-image-2 family); ``types/images_response.py``: ``data[].b64_json`` (GPT image
models always answer base64) and ``usage`` {input_tokens, input_tokens_details {image_tokens,
text_tokens}, output_tokens}. The SDK sends the edit images as ``image[]`` parts
(``resources/images.py`` ``extract_files(paths=[["image"], ["image", "<array>"], ...])``, whose
default ``array_format="brackets"`` names an array part ``image[]``, ``_utils/_utils.py``). No negative prompt and no seed on this API.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import httpx

from adapters._http import (
    HttpClient,
    body_of,
    classify_status,
    decode_object,
    error_message,
    synchronous_generation,
)
from adapters.errors import ProviderError, ProviderFailureError, SafetyRefusalError, answer_shape
from adapters.images import ImageRequest, ImageResult, measured, refuse_unsupported

BASE_URL = "https://api.openai.com/v1"
_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def _classify(provider: str, response: httpx.Response) -> ProviderError:
    """The API's ``moderation_blocked`` code is a safety refusal whatever its wording."""
    body = body_of(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("code") == "moderation_blocked":
        message = f"HTTP {response.status_code}: {error_message(body)}"
        return SafetyRefusalError(message, provider, body)
    return classify_status(provider, response)


def generation_body(request: ImageRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"model": request.model, "prompt": request.prompt, "n": 1}
    if request.size:
        body["size"] = request.size
    body.update(request.params)
    return body


class OpenAIImageClient:
    provider = "openai"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 120.0,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"}
        self._http = HttpClient(
            self.provider, base_url or BASE_URL, headers, timeout=timeout, transport=transport
        )
        self._http.classifier = _classify

    def generate(self, request: ImageRequest) -> ImageResult:
        refuse_unsupported(request, self.provider, seed=False)
        body = generation_body(request)
        with synchronous_generation():
            if not request.references:
                answer = self._http.call("POST", "/images/generations", json=body)
            else:
                fields = {k: str(v) for k, v in body.items()}
                files = [
                    ("image[]", (f"reference-{i}.{_EXT.get(r.mime, 'png')}", r.data, r.mime))
                    for i, r in enumerate(request.references)
                ]
                answer = self._http.call("POST", "/images/edits", data=fields, files=files)
        try:  # the API answered 200: it generated (and billed) the image, usable or not
            data = decode_object(self.provider, answer)
            with answer_shape(self.provider, data):
                return self._result(data, request)
        except ProviderError as exc:
            exc.generated()
            raise

    def _result(self, data: dict[str, Any], request: ImageRequest) -> ImageResult:
        items = data.get("data") or []
        encoded = items[0].get("b64_json") if items and isinstance(items[0], dict) else None
        if not encoded:
            raise ProviderFailureError("answer without data[0].b64_json", self.provider, data)
        try:
            image = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProviderFailureError("data[0].b64_json is not base64", self.provider) from exc
        width, height, mime = measured(image, self.provider, data)
        usage = data.get("usage") or {}
        details = usage.get("input_tokens_details") or {}
        text = details.get("text_tokens", usage.get("input_tokens", 0))
        metered = {
            "images": float(len(items)),
            "input_tokens": float(text or 0),
            "image_input_tokens": float(details.get("image_tokens") or 0),
            "output_tokens": float(usage.get("output_tokens") or 0),
        }
        raw = {k: v for k, v in data.items() if k != "data"}
        return ImageResult(
            image, mime, width, height, metered, self.provider, request.model, None, raw
        )

    def close(self) -> None:
        self._http.close()
