"""Replicate predictions API.

``provider_model`` is ``owner/name`` (official model endpoint) or ``owner/name:version`` or a bare
version id (``/v1/predictions``). ``aborted`` (a ``Cancel-After`` deadline hit before start) counts
as canceled; a status this adapter does not know is waited on, never failed (the documented ones:
``starting``, ``processing``, ``succeeded``, ``failed``, ``canceled``, ``aborted``, replicate.com
docs/topics/predictions/lifecycle). Outputs are deleted after an hour, so fetch downloads right away.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from adapters._hosted import (
    HostedAdapter,
    JobStatus,
    canceled,
    failed,
    running,
    succeeded,
)
from adapters._http import looks_like_safety
from adapters.base import GenerationRequest
from adapters.errors import (
    ProviderFailureError,
    RejectedInputError,
    SafetyRefusalError,
    answer_shape,
)
from adapters.image_port import ImagePort, first_frame

RECONCILE_SKEW_S = 60.0
RECONCILE_PAGES = 5

# replicate.com/docs/topics/predictions/input-files (seen 2026-12-07): a data URI "is only
# recommended if the file is less than 1MB" (a larger one is re-encoded within it; what Replicate
# does with one over it is UNCERTAIN)
IMAGE_PORT = ImagePort(
    "replicate", max_uri_chars=len("data:image/jpeg;base64,") + 4 * 1_000_000 // 3
)


class ReplicateAdapter(HostedAdapter):
    provider = "replicate"
    default_base_url: ClassVar[str] = "https://api.replicate.com"

    def build_input(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": request.spoken_prompt,
            "duration": round(request.duration_s),
            "aspect_ratio": request.aspect_ratio,
            "resolution": f"{min(request.width, request.height)}p",
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        # always explicit: Veo 3.1 on Replicate defaults generate_audio to true (and bills the
        # audio rate), so a silent request that omits it gets, and pays for, audio
        body["generate_audio"] = bool(request.audio)
        if request.reference_image is not None:
            frame = first_frame(request.reference_image, request.width, request.height, IMAGE_PORT)
            body["image"] = frame.data_uri()
        body.update(request.extra.get("replicate_input", {}))
        return body

    def submit(self, request: GenerationRequest) -> str:
        model = request.provider_model
        payload: dict[str, Any] = {"input": self.build_input(request)}
        if "/" in model and ":" not in model:
            path = f"/v1/models/{model}/predictions"
        else:
            path = "/v1/predictions"
            payload["version"] = model.split(":", 1)[-1]
        if request.extra.get("webhook_url"):
            payload["webhook"] = request.extra["webhook_url"]
        data = self._http.json("POST", path, json=payload)
        if not data.get("id"):
            raise ProviderFailureError("prediction without an id", self.provider, data)
        return str(data["id"])

    def find_submission(self, request: GenerationRequest, since: float) -> list[str]:
        """Reconcile (``FindsLostSubmissions``): ``GET /v1/predictions`` (newest first, cursor
        pages of predictions with their ``input``: SDK replicate 1.0.7 prediction.py
        ``Predictions.list``) back to ``since``; the predictions whose input is exactly the one this
        request sends. UNCERTAIN: whether the list can lag behind a create."""
        expected, model = self.build_input(request), request.provider_model
        found: list[str] = []
        url = "/v1/predictions"
        for _ in range(RECONCILE_PAGES):
            page = self._http.json("GET", url)
            with answer_shape(self.provider, page):
                for pred in page.get("results") or []:
                    if not isinstance(pred, dict) or _created(pred) < since - RECONCILE_SKEW_S:
                        return found
                    same_model = pred.get("model") in (None, model.split(":", 1)[0])
                    if pred.get("id") and same_model and pred.get("input") == expected:
                        found.append(str(pred["id"]))
                if not page.get("next"):
                    break
                url = str(page["next"])
        return found

    def _status(self, job_id: str) -> JobStatus:
        pred = self._http.json("GET", f"/v1/predictions/{job_id}")
        status = str(pred.get("status", ""))
        if status == "starting":
            return running(pred, queued=True)
        if status == "processing":
            return running(pred)
        if status == "succeeded":
            url = _output_url(pred.get("output"))
            if not url:
                return failed(ProviderFailureError("succeeded without output", self.provider, pred))
            return succeeded(pred, url)
        if status in ("canceled", "aborted"):
            return canceled(pred, self.provider)
        if status != "failed":  # an in-progress state this adapter does not know yet
            return running(pred)
        message = str(pred.get("error") or "prediction failed")
        if looks_like_safety(message):
            return failed(SafetyRefusalError(message, self.provider, pred))
        return failed(ProviderFailureError(message, self.provider, pred))

    def _cancel(self, job_id: str) -> bool:
        try:
            self._http.call("POST", f"/v1/predictions/{job_id}/cancel")
        except RejectedInputError:
            return False
        return True


def _created(pred: dict[str, Any]) -> float:
    """A prediction's ``created_at`` in epoch seconds (one without counts as new)."""
    text = str(pred.get("created_at") or "")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("inf")


def _output_url(output: Any) -> str | None:
    if isinstance(output, str):
        return output
    if isinstance(output, list) and output:
        return _output_url(output[0])
    if isinstance(output, dict):
        for key in ("video", "url", "output"):
            if key in output:
                return _output_url(output[key])
    return None
