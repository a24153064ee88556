"""Google Veo through the Gemini Developer API: ``predictLongRunning`` operations.

Quirks handled: an operation that is ``done`` with zero samples and ``raiMediaFilteredCount`` is a
safety refusal; downloads need the API key; the Developer API refuses ``seed``, ``fps`` and
``generateAudio``, so they are never sent.
"""

from __future__ import annotations

import base64
import mimetypes
from typing import Any, ClassVar

from adapters._hosted import HostedAdapter, JobStatus, canceled, failed, running, succeeded
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

_REJECTED = {
    "INVALID_ARGUMENT",
    "FAILED_PRECONDITION",
    "OUT_OF_RANGE",
    "NOT_FOUND",
    "PERMISSION_DENIED",
}
_TRANSIENT = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED"}


def resolution_for(width: int, height: int) -> str:
    short = min(width, height)
    if short >= 2000:
        return "4k"
    return "1080p" if short >= 1000 else "720p"


def operation_error(provider: str, error: dict[str, Any]) -> ProviderError:
    """Classify the ``error`` of a finished operation (google.rpc.Status)."""
    status = str(error.get("status", ""))
    message = str(error.get("message", "operation failed"))
    code = error.get("code")
    if looks_like_safety(message):
        return SafetyRefusalError(message, provider, error)
    if status == "RESOURCE_EXHAUSTED" or code == 429:
        return RateLimitedError(message, provider, None, error)
    if status in _REJECTED or code in (400, 403, 404):
        return RejectedInputError(message, provider, error)
    if status in _TRANSIENT or code in (503, 504):
        return TransientError(message, provider, error)
    return ProviderFailureError(message, provider, error)


class VeoAdapter(HostedAdapter):
    provider = "google"
    default_base_url: ClassVar[str] = "https://generativelanguage.googleapis.com"
    api_version: ClassVar[str] = "v1beta"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-goog-api-key": key}

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        instance: dict[str, Any] = {"prompt": request.prompt}
        if request.reference_image is not None:
            mime = mimetypes.guess_type(request.reference_image.name)[0] or "image/png"
            encoded = base64.b64encode(request.reference_image.read_bytes()).decode()
            instance["image"] = {"bytesBase64Encoded": encoded, "mimeType": mime}
        parameters: dict[str, Any] = {
            "sampleCount": 1,
            "durationSeconds": round(request.duration_s),
            "aspectRatio": "9:16" if request.height > request.width else "16:9",
            "resolution": resolution_for(request.width, request.height),
        }
        if request.negative_prompt:
            parameters["negativePrompt"] = request.negative_prompt
        parameters.update(request.extra.get("veo_parameters", {}))
        body: dict[str, Any] = {"instances": [instance], "parameters": parameters}
        if request.extra.get("webhook_url"):
            body["webhookConfig"] = {"uris": [str(request.extra["webhook_url"])]}
        return body

    def submit(self, request: GenerationRequest) -> str:
        model = request.provider_model or "veo-3.1-fast-generate-preview"
        path = f"/{self.api_version}/models/{model}:predictLongRunning"
        data = self._http.json("POST", path, json=self.build_body(request))
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise ProviderFailureError("operation without a name", self.provider, data)
        return name

    def _status(self, job_id: str) -> JobStatus:
        op = self._http.json("GET", f"/{self.api_version}/{job_id}")
        if not op.get("done"):
            return running(op, _progress(op))
        error = op.get("error")
        if isinstance(error, dict):
            if error.get("status") == "CANCELLED" or error.get("code") == 1:
                return canceled(op)
            return failed(operation_error(self.provider, error))
        video_response = (op.get("response") or {}).get("generateVideoResponse") or {}
        samples = video_response.get("generatedSamples") or []
        found = [_sample_url(s.get("video") or {}) for s in samples if isinstance(s, dict)]
        uris = [u for u in found if u]
        if uris:
            return succeeded(op, uris[0])
        reasons = video_response.get("raiMediaFilteredReasons") or []
        if video_response.get("raiMediaFilteredCount") or reasons:
            text = "; ".join(str(r) for r in reasons) or "filtered by responsible-AI checks"
            return failed(SafetyRefusalError(text, self.provider, op))
        return failed(ProviderFailureError("operation done without samples", self.provider, op))

    def _cancel(self, job_id: str) -> bool:
        try:
            self._http.call("POST", f"/{self.api_version}/{job_id}:cancel")
        except RejectedInputError:
            return False
        return True


def _sample_url(video: dict[str, Any]) -> str | None:
    """The sample's URI, or its inline ``encodedVideo`` as a ``data:`` URL."""
    if video.get("uri"):
        return str(video["uri"])
    if video.get("encodedVideo"):
        mime = str(video.get("encoding") or "video/mp4")
        return f"data:{mime};base64,{video['encodedVideo']}"
    return None


def _progress(op: dict[str, Any]) -> float | None:
    meta = op.get("metadata")
    value = meta.get("progressPercent") if isinstance(meta, dict) else None
    return float(value) / 100.0 if isinstance(value, int | float) else None
