"""fal.ai queue API.

The job id is the queue path ``<owner>/<alias>/requests/<request_id>`` (the subpath of the app id is
dropped, as fal does for status/result/cancel URLs), so polling needs nothing else. Quirk handled:
there is no FAILED queue state, a ``COMPLETED`` job whose result fetch fails (or which carries
``error``) is a failure, so ``_status`` fetches the result as soon as the queue says COMPLETED.
"""

from __future__ import annotations

from typing import Any, ClassVar

from adapters._hosted import (
    HostedAdapter,
    JobStatus,
    canceled,
    data_uri,
    failed,
    idempotency_headers,
    running,
    succeeded,
)
from adapters._http import looks_like_safety
from adapters.base import GenerationRequest
from adapters.errors import (
    ProviderError,
    ProviderFailureError,
    RejectedInputError,
    SafetyRefusalError,
    TransientError,
)

NAMESPACES = ("workflows", "comfy")


def queue_root(app_id: str) -> str:
    """``fal-ai/veo3/fast`` -> ``fal-ai/veo3`` (namespaced apps keep three segments)."""
    parts = app_id.strip("/").split("/")
    keep = 3 if parts[0] in NAMESPACES else 2
    return "/".join(parts[:keep])


class FalAdapter(HostedAdapter):
    provider = "fal"
    default_base_url: ClassVar[str] = "https://queue.fal.run"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Key {key}"}

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        seconds = round(request.duration_s)
        app_id = request.provider_model or ""
        default_unit = "" if "kling" in app_id else "s"  # fal's Kling apps take "5", Veo "8s"
        unit = str(request.extra.get("fal_duration_suffix", default_unit))
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "aspect_ratio": "9:16" if request.height > request.width else "16:9",
            "duration": f"{seconds}{unit}",
            "generate_audio": request.audio,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        if request.reference_image is not None:
            body["image_url"] = data_uri(request.reference_image)
        body.update(request.extra.get("fal_input", {}))
        return body

    def submit(self, request: GenerationRequest) -> str:
        app_id = request.provider_model or "fal-ai/veo3/fast"
        headers = idempotency_headers(request)
        hook = request.extra.get("webhook_url")
        params = {"fal_webhook": str(hook)} if hook else None
        data = self._http.json(
            "POST", f"/{app_id}", json=self.build_body(request), headers=headers, params=params
        )
        request_id = data.get("request_id")
        if not request_id:
            raise ProviderFailureError("queue answer without request_id", self.provider, data)
        return f"{queue_root(app_id)}/requests/{request_id}"

    def _status(self, job_id: str) -> JobStatus:
        status = self._http.json("GET", f"/{job_id}/status")
        state = str(status.get("status", ""))
        if state == "IN_QUEUE":
            return running(status, queued=True)
        if state == "IN_PROGRESS":
            return running(status)
        if state != "COMPLETED":
            return failed(
                ProviderFailureError(f"unknown queue status {state!r}", self.provider, status)
            )
        if status.get("error"):
            if "cancel" in str(status.get("error_type") or status["error"]).lower():
                return canceled(status)
            return failed(self._completed_error(str(status["error"]), status))
        return self._result(job_id)

    def _result(self, job_id: str) -> JobStatus:
        try:
            result = self._http.json("GET", f"/{job_id}")
        except (RejectedInputError, SafetyRefusalError) as exc:
            return failed(exc)
        except TransientError as exc:
            return failed(
                ProviderFailureError(f"result fetch failed: {exc}", self.provider, exc.raw)
            )
        video = result.get("video")
        url = video.get("url") if isinstance(video, dict) else None
        if not url:
            return failed(ProviderFailureError("result without video.url", self.provider, result))
        return succeeded(result, str(url))

    def _completed_error(self, message: str, raw: object) -> ProviderError:
        if looks_like_safety(message):
            return SafetyRefusalError(message, self.provider, raw)
        return ProviderFailureError(message, self.provider, raw)

    def _cancel(self, job_id: str) -> bool:
        try:
            self._http.call("PUT", f"/{job_id}/cancel")
        except RejectedInputError:
            return False
        return True
