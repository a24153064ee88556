"""Google Veo through Vertex AI (Gemini Enterprise Agent Platform): ``predictLongRunning``.

The Gemini Developer API no longer creates Veo videos: its preview ids were shut down on 2026-10-22
([3P] docs.apiyi.com live/2026-10/veo-3-1-preview-retired, quoting ai.google.dev deprecations) and
google-genai 3.6.1 ``models.py _generate_videos`` raises "only supported in Gemini Enterprise Agent
Platform mode" outside Vertex. So Veo is reached on Vertex, with an OAuth2 bearer token for a project
(``SHOTLINE_VERTEX_ACCESS_TOKEN``, ``SHOTLINE_VERTEX_PROJECT``, ``SHOTLINE_VERTEX_LOCATION``).

Wire (SDK google-genai 3.6.1 ``models.py _GenerateVideosParameters_to_vertex``, ``operations.py
_fetch_predict_videos_operation``): create ``POST /v1/projects/{p}/locations/{l}/publishers/google/
models/{m}:predictLongRunning`` -> ``{"name": ".../operations/{id}"}``; poll ``POST
/v1/{model resource}:fetchPredictOperation`` with ``{"operationName": name}``. Without
``storageUri`` the clip comes back inline (``videos[].bytesBase64Encoded``), so no download ever
carries the credential. A finished operation with no video and ``raiMediaFilteredCount`` is a
safety refusal; an operation without ``done`` is still running, whatever its metadata says.
Vertex has no per-request webhook (the SDK refuses ``webhook_config`` in Vertex mode), so a
``webhook_url`` in ``extra`` is ignored and the job is polled.

Extend (a long shot's extension part, ``GenerationRequest.extend_video``): the same
``predictLongRunning`` with ``instances[0].video`` (the previous part's clip inline, never with an
``image``: google-genai 3.6.1 ``types.py GenerateVideosSource``) and ``durationSeconds: 7``; the
operation's video is the sent clip followed by the 7 s extension, cut to its tail by the pipeline.
"""

from __future__ import annotations

import base64
from pathlib import Path
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
from adapters.image_port import ImagePort, first_frame, reference

_REJECTED = {
    "INVALID_ARGUMENT",
    "FAILED_PRECONDITION",
    "OUT_OF_RANGE",
    "NOT_FOUND",
    "PERMISSION_DENIED",
}
_TRANSIENT = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED"}
EMULATOR_PROJECT = "shotline-emulator"
DEFAULT_MODEL = "veo-3.1-fast-generate-001"

# 20 MB of inline image bytes: [3P] Vercel AI Gateway "Maximum input image size: 20 MB", as the
# emulator (emulators/routes/vertex.py MAX_IMAGE_BYTES); UNCERTAIN for Vertex itself
IMAGE_PORT = ImagePort("google", max_uri_chars=20 * 1024 * 1024 * 4 // 3)


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
    if status == "RESOURCE_EXHAUSTED" or code in (8, 429):
        return RateLimitedError(message, provider, None, error)
    if status in _REJECTED or code in (3, 5, 7, 9, 11, 400, 403, 404):
        return RejectedInputError(message, provider, error)
    if status in _TRANSIENT or code in (4, 10, 14, 503, 504):
        return TransientError(message, provider, error)
    return ProviderFailureError(message, provider, error)


def vertex_host(location: str) -> str:
    """``https://{location}-aiplatform.googleapis.com``; the ``global`` endpoint has no prefix
    (SDK google-genai 3.6.1 ``_api_client.py`` base_url selection)."""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


class VeoAdapter(HostedAdapter):
    """Veo on Vertex AI. ``api_key`` is the OAuth2 access token sent as ``Authorization: Bearer``."""

    provider = "google"
    default_base_url: ClassVar[str] = vertex_host("us-central1")
    api_version: ClassVar[str] = "v1"

    def __init__(
        self, *, project: str | None = None, location: str = "us-central1", **kwargs: Any
    ) -> None:
        if not kwargs.get("base_url"):
            kwargs["base_url"] = vertex_host(location)
        super().__init__(**kwargs)
        if not project:
            raise RejectedInputError("no Vertex AI project configured", self.provider)
        self.project = project
        self.location = location

    def _model_path(self, model: str) -> str:
        return (
            f"/{self.api_version}/projects/{self.project}/locations/{self.location}"
            f"/publishers/google/models/{model}"
        )

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        instance: dict[str, Any] = {"prompt": request.spoken_prompt}
        if request.extend_video is not None:
            instance["video"] = _video(request.extend_video)  # no image with it ([SDK] types.py)
        elif request.reference_image is not None:
            frame = first_frame(request.reference_image, request.width, request.height, IMAGE_PORT)
            instance["image"] = {"bytesBase64Encoded": frame.base64(), "mimeType": frame.mime}
        if request.reference_images and "image" not in instance and "video" not in instance:
            # "asset" refs, 8 s at 16:9, never beside a first frame (registry references_with_image)
            instance["referenceImages"] = [_asset(path) for path in request.reference_images]
        parameters: dict[str, Any] = {
            "sampleCount": 1,
            "durationSeconds": round(request.duration_s),
            "aspectRatio": "9:16" if request.height > request.width else "16:9",
            "resolution": resolution_for(request.width, request.height),
            # the registry prices Veo 3.1 with audio (audio: always); Vertex takes the flag
            "generateAudio": True,
        }
        if request.negative_prompt:
            parameters["negativePrompt"] = request.negative_prompt
        parameters.update(request.extra.get("veo_parameters", {}))
        return {"instances": [instance], "parameters": parameters}

    def submit(self, request: GenerationRequest) -> str:
        model = request.provider_model or DEFAULT_MODEL
        path = f"{self._model_path(model)}:predictLongRunning"
        data = self._http.json("POST", path, json=self.build_body(request))
        name = data.get("name")
        if not isinstance(name, str) or "/operations/" not in name:
            raise ProviderFailureError("operation without a name", self.provider, data)
        return name

    def _status(self, job_id: str) -> JobStatus:
        resource = job_id.rpartition("/operations/")[0]
        path = f"/{self.api_version}/{resource}:fetchPredictOperation"
        op = self._http.json("POST", path, json={"operationName": job_id})
        if not op.get("done"):
            return running(op, _progress(op))
        error = op.get("error")
        if isinstance(error, dict):
            if error.get("status") == "CANCELLED" or error.get("code") == 1:
                return canceled(op, self.provider)
            return failed(operation_error(self.provider, error))
        response = op.get("response") or {}
        videos = response.get("videos") or response.get("generatedSamples") or []
        found = [_video_url(v) for v in videos if isinstance(v, dict)]
        urls = [u for u in found if u]
        if urls:
            return succeeded(op, urls[0])
        reasons = response.get("raiMediaFilteredReasons") or []
        if response.get("raiMediaFilteredCount") or reasons:
            text = "; ".join(str(r) for r in reasons) or "filtered by responsible-AI checks"
            return failed(SafetyRefusalError(text, self.provider, op))
        return failed(ProviderFailureError("operation done without videos", self.provider, op))

    def _cancel(self, job_id: str) -> bool:
        """``google.longrunning`` cancel; whether Veo honours it is UNCERTAIN (not in the SDK)."""
        try:
            self._http.call("POST", f"/{self.api_version}/{job_id}:cancel", json={})
        except RejectedInputError:
            return False
        return True


def _video(path: Path) -> dict[str, Any]:
    """The clip to extend, inline (``Video``: ``bytesBase64Encoded`` + ``mimeType``; google-genai
    3.6.1 ``models.py _Video_to_vertex``). Vertex extends a 1-30 s MP4 by 7 s and answers with
    the input followed by the extension (registry ``extend``, emulators/routes/vertex.py)."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return {"bytesBase64Encoded": data, "mimeType": "video/mp4"}


def _asset(path: Path) -> dict[str, Any]:
    """A character reference as Veo's ``referenceImages`` item (``referenceType: asset``), whole,
    within the port's inline limit."""
    frame = reference(path, IMAGE_PORT)
    image = {"bytesBase64Encoded": frame.base64(), "mimeType": frame.mime}
    return {"image": image, "referenceType": "asset"}


def _video_url(video: dict[str, Any]) -> str | None:
    """The clip inline as a ``data:`` URL, else its URI (``gcsUri`` only with ``storageUri``)."""
    inner = video.get("video") if isinstance(video.get("video"), dict) else video
    assert isinstance(inner, dict)
    if inner.get("bytesBase64Encoded"):
        mime = str(inner.get("mimeType") or "video/mp4")
        return f"data:{mime};base64,{inner['bytesBase64Encoded']}"
    uri = inner.get("uri") or inner.get("gcsUri")
    return str(uri) if uri else None


def _progress(op: dict[str, Any]) -> float | None:
    meta = op.get("metadata")
    value = meta.get("progressPercent") if isinstance(meta, dict) else None
    return float(value) / 100.0 if isinstance(value, int | float) else None
