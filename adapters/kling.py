"""Kling direct API: ``/v1/videos/text2video`` and ``/v1/videos/image2video``, code envelopes.

Auth: an API key as a bearer token, or ``AK:SK`` for the legacy per-request HS256 JWT.
The job id is ``"<kind>/<task_id>"`` (``text2video/abc``) because the poll path depends on the kind.
Kling has no cancel endpoint. Error codes: 1300/1301 policy and safety, 1302/1303 rate and
concurrency, 1100-1102 account/balance, 1000-1004 auth, 1200-1203 parameters, 5000+ server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Generator
from typing import Any, ClassVar

import httpx

from adapters._hosted import (
    HostedAdapter,
    JobStatus,
    failed,
    idempotency_headers,
    running,
    succeeded,
)
from adapters._http import (
    body_of,
    classify_status,
    error_message,
    looks_like_safety,
    parse_retry_after,
)
from adapters.base import GenerationRequest
from adapters.errors import (
    ProviderError,
    ProviderFailureError,
    RateLimitedError,
    RejectedInputError,
    SafetyRefusalError,
    TransientError,
)


def code_error(
    provider: str, code: int, message: str, raw: object, retry: float | None
) -> ProviderError:
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


class KlingAdapter(HostedAdapter):
    provider = "kling"
    default_base_url: ClassVar[str] = "https://api-singapore.klingai.com"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {} if ":" in key else {"Authorization": f"Bearer {key}"}

    def auth(self, key: str) -> httpx.Auth | None:
        access_key, sep, secret_key = key.partition(":")
        return KlingJWT(access_key, secret_key) if sep else None

    def classify(self, provider: str, response: httpx.Response) -> ProviderError:
        body = body_of(response)
        code = body.get("code") if isinstance(body, dict) else None
        if isinstance(code, int) and code:
            retry = parse_retry_after(response.headers, body)
            return code_error(provider, code, error_message(body), body, retry)
        return classify_status(provider, response)

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model_name": request.provider_model or "kling-v3",
            "prompt": request.prompt[:2500],
            "mode": str(request.extra.get("kling_mode", _mode(request.model))),
            "duration": str(round(request.duration_s)),
            "aspect_ratio": _aspect(request),
            "sound": "on" if request.audio else "off",
        }
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        if request.reference_image is not None:
            body["image"] = base64.b64encode(request.reference_image.read_bytes()).decode()
        return body

    def _envelope(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        data = self._http.json(method, path, **kwargs)
        code = data.get("code", 0)
        if code:
            raise code_error(self.provider, int(code), str(data.get("message", "")), data, None)
        inner = data.get("data")
        if not isinstance(inner, dict):
            raise TransientError("envelope without data", self.provider, data)
        return inner

    def submit(self, request: GenerationRequest) -> str:
        kind = "image2video" if request.reference_image else "text2video"
        headers = idempotency_headers(request)
        data = self._envelope(
            "POST", f"/v1/videos/{kind}", json=self.build_body(request), headers=headers
        )
        task_id = data.get("task_id")
        if not task_id:
            raise ProviderFailureError("task without an id", self.provider, data)
        return f"{kind}/{task_id}"

    def _status(self, job_id: str) -> JobStatus:
        kind, _, task_id = job_id.partition("/")
        data = self._envelope("GET", f"/v1/videos/{kind}/{task_id}")
        status = str(data.get("task_status", ""))
        if status == "submitted":
            return running(data, queued=True)
        if status == "processing":
            return running(data)
        if status == "succeed":
            videos = (data.get("task_result") or {}).get("videos") or []
            if not videos or not videos[0].get("url"):
                return failed(ProviderFailureError("succeeded without video", self.provider, data))
            return succeeded(data, str(videos[0]["url"]))
        message = str(data.get("task_status_msg") or "task failed")
        if looks_like_safety(message):
            return failed(SafetyRefusalError(message, self.provider, data))
        return failed(ProviderFailureError(message, self.provider, data))

    def _cancel(self, job_id: str) -> bool:
        return False


def _aspect(request: GenerationRequest) -> str:
    if request.width == request.height:
        return "1:1"
    return "9:16" if request.height > request.width else "16:9"


def _mode(registry_id: str) -> str:
    return "pro" if "pro" in registry_id.rsplit("/", 1)[-1] else "std"
