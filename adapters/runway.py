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
    failed,
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
from adapters.image_port import ImagePort, first_frame

RUNWAY_VERSION = "2024-11-06"
USD_PER_CREDIT = 0.01  # docs.dev.runwayml.com guides/setup
_AUDIO_MODELS = ("veo3",)
_PROMPT_UNITS = (
    1000  # runwayml 5.24.0: promptText "up to 1000 characters (measured in UTF-16 code units)"
)
# docs.dev.runwayml.com/assets/inputs: an image data URI of at most 5 MB, sides under 8,000 px
IMAGE_PORT = ImagePort("runway", max_uri_chars=5 * 1024 * 1024, max_side=7999)


def utf16_prefix(text: str, units: int) -> str:
    """The longest prefix of ``text`` that is at most ``units`` UTF-16 code units long."""
    encoded = text.encode("utf-16-le")
    if len(encoded) <= units * 2:
        return text
    cut = encoded[: units * 2]
    return cut.decode("utf-16-le", errors="ignore")


def failure_error(provider: str, task: dict[str, Any]) -> ProviderError:
    code = str(task.get("failureCode") or "")
    message = f"{task.get('failure') or 'task failed'} ({code or 'no code'})"
    error: ProviderError
    if code.startswith("SAFETY"):
        error = SafetyRefusalError(message, provider, task)
    elif code.startswith(("INPUT", "ASSET")):
        error = RejectedInputError(message, provider, task)
    else:
        error = ProviderFailureError(message, provider, task)
    error.charged_usd = charged_usd(task)  # what Runway billed for it: wins over the rules
    return error


def charged_usd(task: dict[str, Any]) -> float | None:
    """runwayml 5.24.0 ``task_retrieve_response.py``: terminal tasks report ``cost.credits``."""
    cost = task.get("cost")
    credits = cost.get("credits") if isinstance(cost, dict) else None
    if isinstance(credits, int | float) and not isinstance(credits, bool):
        return round(float(credits) * USD_PER_CREDIT, 4)
    return None


class RunwayAdapter(HostedAdapter):
    provider = "runway"
    default_base_url: ClassVar[str] = "https://api.dev.runwayml.com"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}", "X-Runway-Version": RUNWAY_VERSION}

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        model = request.provider_model or "gen4.5"
        body: dict[str, Any] = {
            "model": model,
            "promptText": utf16_prefix(request.spoken_prompt, _PROMPT_UNITS),
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
            frame = first_frame(request.reference_image, request.width, request.height, IMAGE_PORT)
            body["promptImage"] = frame.data_uri()
        return body

    def submit(self, request: GenerationRequest) -> str:
        path = "/v1/image_to_video" if request.reference_image else "/v1/text_to_video"
        data = self._http.json("POST", path, json=self.build_body(request))
        task_id = data.get("id")
        if not isinstance(task_id, str) or not task_id:
            raise ProviderFailureError("task without an id", self.provider, data)
        return task_id

    def _status(self, job_id: str) -> JobStatus:
        task = self._http.json("GET", f"/v1/tasks/{job_id}")
        status = str(task.get("status", "")).upper()
        if status == "SUCCEEDED":
            output = task.get("output")
            url = output[0] if isinstance(output, list) and output else None
            if not isinstance(url, str) or not url:  # an array of URLs, per Runway's API
                return failed(ProviderFailureError("succeeded without output", self.provider, task))
            return succeeded(task, url, charged_usd(task))
        if status == "CANCELLED":
            return canceled(task, self.provider, charged_usd(task))
        if status == "FAILED":
            return failed(failure_error(self.provider, task))
        if status in ("PENDING", "THROTTLED"):
            return running(task, queued=True)
        # RUNNING, and any status this adapter does not know yet: still in progress, waited on
        # with the attempt timeout (a paid job is never given up because of a new state name)
        progress = task.get("progress")
        return running(task, float(progress) if isinstance(progress, int | float) else None)

    def _cancel(self, job_id: str) -> bool:
        try:
            self._http.call("DELETE", f"/v1/tasks/{job_id}")
        except RejectedInputError:
            return False
        return True
