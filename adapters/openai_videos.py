"""The OpenAI ``/v1/videos`` wire shape (Sora 2 shut down on 2026-09-24; gateways still serve it).

Create is multipart (``seconds`` is a string), the result is downloaded from
``/v1/videos/{id}/content`` with the same bearer key. A reference image must have exactly the
requested size (the API answers 400 "Inpaint image must match the requested width and height"), so
it is centre-cropped and scaled to the frame before upload (``adapters.image_port``). Statuses (SDK
openai 3.60.0 ``types/video.py``): ``queued``, ``in_progress``, ``completed``, ``failed``; any
other is waited on.
"""

from __future__ import annotations

from typing import Any, ClassVar

from adapters._hosted import (
    HostedAdapter,
    JobStatus,
    failed,
    running,
    succeeded,
)
from adapters._http import looks_like_safety
from adapters.base import GenerationRequest
from adapters.errors import ProviderFailureError, SafetyRefusalError
from adapters.image_port import ImagePort, first_frame

IMAGE_PORT = ImagePort("openai", exact=True)  # the reference must have the video's size


class OpenAIVideosAdapter(HostedAdapter):
    provider = "openai"
    default_base_url: ClassVar[str] = "https://api.openai.com"

    def build_form(self, request: GenerationRequest) -> dict[str, Any]:
        form: dict[str, Any] = {
            "prompt": (None, request.spoken_prompt),
            "model": (None, request.provider_model or "sora-2"),
            "seconds": (None, str(round(request.duration_s))),
            "size": (None, f"{request.width}x{request.height}"),
        }
        if request.reference_image is not None:
            frame = first_frame(request.reference_image, request.width, request.height, IMAGE_PORT)
            suffix = "png" if frame.mime == "image/png" else "jpg"
            form["input_reference"] = (f"reference.{suffix}", frame.data, frame.mime)
        return form

    def submit(self, request: GenerationRequest) -> str:
        data = self._http.json("POST", "/v1/videos", files=self.build_form(request))
        if not data.get("id"):
            raise ProviderFailureError("video without an id", self.provider, data)
        return str(data["id"])

    def _status(self, job_id: str) -> JobStatus:
        video = self._http.json("GET", f"/v1/videos/{job_id}")
        status = str(video.get("status", ""))
        progress = video.get("progress")
        fraction = float(progress) / 100.0 if isinstance(progress, int | float) else None
        if status == "queued":
            return running(video, fraction, queued=True)
        if status == "in_progress":
            return running(video, fraction)
        if status == "completed":
            return succeeded(video, f"/v1/videos/{job_id}/content")
        if status != "failed":  # an in-progress state this adapter does not know yet
            return running(video, fraction)
        error = video.get("error") or {}
        code = str(error.get("code") or "") if isinstance(error, dict) else ""
        message = str(error.get("message") or "video failed") if isinstance(error, dict) else ""
        if looks_like_safety(f"{code} {message}"):
            return failed(SafetyRefusalError(f"{message} ({code})", self.provider, video))
        return failed(ProviderFailureError(f"{message} ({code})", self.provider, video))

    def _cancel(self, job_id: str) -> bool:
        """No cancel: the Videos API has none, and its ``DELETE`` is for "a completed or failed
        video" (openai 3.60.0 ``resources/videos.py`` ``delete``), which would destroy a paid
        output, not stop a render."""
        return False
