"""The OpenAI ``/v1/videos`` wire shape (Sora 2 shut down on 2026-09-24; gateways still serve it).

Create is multipart (``seconds`` is a string), the result is downloaded from
``/v1/videos/{id}/content`` with the same bearer key. A reference image must have exactly the
requested size (the API answers 400 "Inpaint image must match the requested width and height"), so
it is scaled to cover the frame and centre-cropped before upload. Statuses (SDK openai 3.60.0
``types/video.py``): ``queued``, ``in_progress``, ``completed``, ``failed``; any other is waited on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from adapters._hosted import (
    HostedAdapter,
    JobStatus,
    failed,
    running,
    succeeded,
)
from adapters._http import looks_like_safety
from adapters.base import GenerationRequest
from adapters.errors import ProviderFailureError, RejectedInputError, SafetyRefusalError


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
            form["input_reference"] = (
                "reference.png",
                fitted_reference(request.reference_image, request.width, request.height),
                "image/png",
            )
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
        try:
            self._http.call("DELETE", f"/v1/videos/{job_id}")
        except RejectedInputError:
            return False
        return True


def fitted_reference(path: Path, width: int, height: int) -> bytes:
    """The reference image scaled to cover ``width`` x ``height`` and centre-cropped, as PNG."""
    image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise RejectedInputError(f"reference image {path.name} is not a readable image", "openai")
    scale = max(width / image.shape[1], height / image.shape[0])
    size = (max(width, round(image.shape[1] * scale)), max(height, round(image.shape[0] * scale)))
    scaled = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    top, left = (size[1] - height) // 2, (size[0] - width) // 2
    ok, encoded = cv2.imencode(".png", scaled[top : top + height, left : left + width])
    if not ok:
        raise RejectedInputError(f"reference image {path.name} cannot be encoded", "openai")
    return bytes(encoded.tobytes())
