"""Runway tasks API (``X-Runway-Version: 2024-11-06``).

Quirks handled: ``THROTTLED`` is queued, not failed; ``SAFETY.*`` failure codes are safety
refusals, ``INTERNAL.BAD_OUTPUT.*`` a provider failure; output URLs expire, so fetch re-polls.
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
from adapters.base import GenerationRequest
from adapters.errors import (
    ProviderError,
    ProviderFailureError,
    RejectedInputError,
    SafetyRefusalError,
)

RUNWAY_VERSION = "2024-11-06"
_AUDIO_MODELS = ("veo3",)


def failure_error(provider: str, task: dict[str, Any]) -> ProviderError:
    code = str(task.get("failureCode") or "")
    message = f"{task.get('failure') or 'task failed'} ({code or 'no code'})"
    if code.startswith("SAFETY"):
        return SafetyRefusalError(message, provider, task)
    if code.startswith(("INPUT", "ASSET")):
        return RejectedInputError(message, provider, task)
    return ProviderFailureError(message, provider, task)


class RunwayAdapter(HostedAdapter):
    provider = "runway"
    default_base_url: ClassVar[str] = "https://api.dev.runwayml.com"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}", "X-Runway-Version": RUNWAY_VERSION}

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        model = request.provider_model or "gen4.5"
        body: dict[str, Any] = {
            "model": model,
            "promptText": request.prompt[:1000],
            "ratio": f"{request.width}:{request.height}",
            "duration": round(request.duration_s),
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if model.startswith(_AUDIO_MODELS):
            body["audio"] = request.audio
            if request.negative_prompt:
                body["negativePrompt"] = request.negative_prompt
        if request.reference_image is not None:
            body["promptImage"] = data_uri(request.reference_image)
        return body

    def submit(self, request: GenerationRequest) -> str:
        path = "/v1/image_to_video" if request.reference_image else "/v1/text_to_video"
        headers = idempotency_headers(request)
        data = self._http.json("POST", path, json=self.build_body(request), headers=headers)
        task_id = data.get("id")
        if not isinstance(task_id, str) or not task_id:
            raise ProviderFailureError("task without an id", self.provider, data)
        return task_id

    def _status(self, job_id: str) -> JobStatus:
        task = self._http.json("GET", f"/v1/tasks/{job_id}")
        status = str(task.get("status", "")).upper()
        if status in ("PENDING", "THROTTLED"):
            return running(task, queued=True)
        if status == "RUNNING":
            progress = task.get("progress")
            return running(task, float(progress) if isinstance(progress, int | float) else None)
        if status == "SUCCEEDED":
            output = task.get("output") or []
            if not output:
                return failed(ProviderFailureError("succeeded without output", self.provider, task))
            return succeeded(task, str(output[0]))
        if status == "CANCELLED":
            return canceled(task)
        return failed(failure_error(self.provider, task))

    def _cancel(self, job_id: str) -> bool:
        try:
            self._http.call("DELETE", f"/v1/tasks/{job_id}")
        except RejectedInputError:
            return False
        return True
