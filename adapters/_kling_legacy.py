"""Kling's legacy standard (``/v1/videos/{text2video,image2video}``, ``model_name``/``mode``,
``succeed``), used only with an ``AK:SK`` key, and the pieces both standards share."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Generator, Mapping
from typing import Any

import httpx

from adapters._hosted import JobStatus, failed, running, succeeded
from adapters._http import looks_like_safety
from adapters.base import GenerationRequest
from adapters.errors import (
    ProviderError,
    ProviderFailureError,
    RateLimitedError,
    RejectedInputError,
    SafetyRefusalError,
    TransientError,
)
from adapters.image_port import ImagePort, first_frame

_MODES = {"720p": "std", "1080p": "pro", "4k": "4k"}
IMAGE_PORT = ImagePort("kling", max_uri_chars=10 * 1024 * 1024, min_side=300)
"""A first frame on either standard (adapters/image_port.py names the sources)."""
_SOUND_MODELS = ("kling-v2-6", "kling-v3")  # "sound: only V2.6+ models"


def code_error(
    provider: str, code: int, message: str, raw: object, retry: float | None
) -> ProviderError:
    """Kling's business code (error-codes page) as our taxonomy."""
    text = f"code {code}: {message}"
    if code in (1300, 1301):
        return SafetyRefusalError(text, provider, raw)
    if code in (1302, 1303):
        return RateLimitedError(text, provider, retry, raw)
    if code >= 5000:
        return TransientError(text, provider, raw)
    if 1000 <= code < 1400:
        return RejectedInputError(text, provider, raw)
    return ProviderFailureError(text, provider, raw)


class KlingJWT(httpx.Auth):
    """Legacy Kling auth: an HS256 JWT ``{iss: AccessKey, exp: now+1800, nbf: now-5}`` signed with
    the SecretKey, re-minted before it expires. Used when the key is given as ``AK:SK``."""

    def __init__(self, access_key: str, secret_key: str) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self._token = ""
        self._expires = 0.0

    def token(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        if now > self._expires - 60:
            self._expires = now + 1800
            payload = {"iss": self._access_key, "exp": int(self._expires), "nbf": int(now) - 5}
            self._token = hs256_jwt(payload, self._secret_key)
        return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        yield request

    def __repr__(self) -> str:
        return "KlingJWT(***)"


def hs256_jwt(payload: dict[str, Any], secret: str) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = part(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = part(json.dumps(payload, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{part(signature)}"


def legacy_body(
    request: GenerationRequest, names: Mapping[str, str], ref: str | None, resolution: str
) -> tuple[str, dict[str, Any]]:
    """``(kind, body)`` of a legacy create. Models that exist only on the new standard (Kling 3.0
    Turbo) are refused here: an AK:SK key cannot reach them."""
    model = request.provider_model or "kling-v3"
    model = names.get(model, model)
    if model.startswith("kling-3"):
        raise RejectedInputError(
            f"{model} is served only by Kling's new API, which needs an API key (not AK:SK)",
            "kling",
        )
    body: dict[str, Any] = {
        "model_name": model,
        "prompt": request.spoken_prompt[:2500],
        "mode": _MODES[resolution],
        "duration": str(round(request.duration_s)),
    }
    if model in _SOUND_MODELS:
        body["sound"] = "on" if request.audio else "off"
    if request.negative_prompt:
        body["negative_prompt"] = request.negative_prompt[:2500]
    if ref:
        body["external_task_id"] = ref
    if request.reference_image is None:
        body["aspect_ratio"] = _aspect(request)
        return "text2video", body
    frame = first_frame(request.reference_image, request.width, request.height, IMAGE_PORT)
    body["image"] = frame.base64()  # raw Base64, no data: prefix, as the new standard's frame
    return "image2video", body


def legacy_status(provider: str, data: Any) -> JobStatus:
    """``submitted, processing, succeed, failed``; anything else is waited on."""
    if not isinstance(data, dict):
        raise TransientError("task without data", provider, data)
    status = str(data.get("task_status", ""))
    if status in ("succeed", "succeeded"):
        videos = (data.get("task_result") or {}).get("videos") or []
        if not videos or not videos[0].get("url"):
            return failed(ProviderFailureError("succeeded without a video", provider, data))
        return succeeded(data, str(videos[0]["url"]))
    if status == "failed":
        return failed(failure(provider, str(data.get("task_status_msg") or "task failed"), data))
    return running(data, queued=status == "submitted")


def failure(provider: str, message: str, raw: object) -> ProviderError:
    """A failed task: a risk-control (content safety) message is a safety refusal."""
    if looks_like_safety(message) or "risk control" in message.lower():
        return SafetyRefusalError(message, provider, raw)
    return ProviderFailureError(message, provider, raw)


def _aspect(request: GenerationRequest) -> str:
    if request.width == request.height:
        return "1:1"
    return "9:16" if request.height > request.width else "16:9"
