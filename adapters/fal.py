"""fal.ai queue API.

Each app family's inputs come from fal's own types (``FAMILIES``): Veo 3.1 apps take ``"8s"``
durations and a ``resolution`` (sent, so 1080p is not silently rendered at the 720p default),
Kling v3 apps take ``"5"`` and no resolution; a start image goes to the family's image-to-video
endpoint. fal checks inputs only in the runner, after the queue took (and may bill) the request.

The job id is the queue path ``<owner>/<alias>/requests/<request_id>`` (the subpath of the app id
is dropped, as fal does for status/result/cancel URLs), so polling needs nothing else. Quirks
handled: there is no FAILED queue state, a ``COMPLETED`` job whose result fetch fails (or which
carries ``error``) is a failure, so ``_status`` fetches the result as soon as the queue says
COMPLETED; a queue state this adapter does not know is waited on, never failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from adapters._hosted import (
    HostedAdapter,
    JobStatus,
    canceled,
    failed,
    running,
    succeeded,
)
from adapters._http import classify_status, looks_like_safety
from adapters.base import GenerationRequest
from adapters.errors import (
    ProviderError,
    ProviderFailureError,
    RejectedInputError,
    SafetyRefusalError,
    TransientError,
    answer_shape,
)
from adapters.image_port import ImagePort, first_frame

NAMESPACES = ("workflows", "comfy")
# fal's Platform API lists an app's requests with their inputs: ``GET /models/requests/by-endpoint
# ?endpoint_id=&start=&expand=payloads`` -> ``{items: [{request_id, json_input, ...}], has_more,
# next_cursor}``. Not in fal-client 1.0.3; read from 3P clients of the Platform API (find_string
# "requests/by-endpoint", 2026-12-04). UNCERTAIN: the exact field names, how soon a request is
# listed, and whether json_input keeps inline data URIs as sent.
PLATFORM_API = "https://api.fal.ai/v1"
RECONCILE_SKEW_S = 60.0
RECONCILE_PAGES = 5
_SIDES = {"720p": 720, "1080p": 1080, "4k": 2160}
MAX_DATA_URI = 10 * 1024 * 1024  # fal-ai/fal c6f0afaa toolkit/types.py MAX_DATA_URI_LENGTH
# a longer data URI is refused by the runner after the queue took it (maybe billed)
IMAGE_PORT = ImagePort("fal", max_uri_chars=MAX_DATA_URI)


@dataclass(frozen=True)
class AppFamily:
    """How one family of fal apps spells its inputs (fal-ai/fal-js 381105e1 endpoints.ts types).

    ``image_app`` turns the text-to-video app id into the app that takes a start image: fal serves
    image-to-video as a separate endpoint of the same app.
    """

    duration_unit: str
    resolutions: tuple[str, ...] = ()
    image_field: str = "image_url"
    image_app: Callable[[str], str] = lambda app_id: app_id
    aspect_with_image: bool = True
    seed: bool = True
    auto_fix: bool = False
    """The app rewrites a prompt its checks refuse unless sent ``auto_fix: false`` (Veo31Input:
    "Default value: `true`"): the rewritten prompt would be rendered and billed, not the shot's."""


_VEO31_IMAGE = AppFamily(
    "s", ("720p", "1080p", "4k"), image_app=lambda a: f"{a}/image-to-video", auto_fix=True
)
FAMILIES: tuple[tuple[str, AppFamily], ...] = (
    # Veo31LiteInput: resolution 720p|1080p; Veo31Input (and Fast): 720p|1080p|4k; "4s"|"6s"|"8s"
    ("fal-ai/veo3.1/lite", replace(_VEO31_IMAGE, resolutions=("720p", "1080p"))),
    ("fal-ai/veo3.1", _VEO31_IMAGE),
    # KlingVideoV34k*Input: duration "3".."15", no resolution or seed field, i2v takes
    # start_image_url and no aspect_ratio (the image sets it)
    (
        "fal-ai/kling-video/",
        AppFamily(
            "",
            image_field="start_image_url",
            image_app=lambda a: a.replace("/text-to-video", "/image-to-video"),
            aspect_with_image=False,
            seed=False,
        ),
    ),
)
DEFAULT_FAMILY = AppFamily("s")


def family(app_id: str) -> AppFamily:
    return next((fam for prefix, fam in FAMILIES if app_id.startswith(prefix)), DEFAULT_FAMILY)


def resolution_for(fam: AppFamily, width: int, height: int) -> str | None:
    """The smallest resolution of the app covering the requested short side (the largest when
    none does); ``None`` when the app takes no ``resolution``."""
    if not fam.resolutions:
        return None
    short = min(width, height)
    fitting = [r for r in fam.resolutions if _SIDES[r] >= short]
    return fitting[0] if fitting else fam.resolutions[-1]


def aspect_for(request: GenerationRequest) -> str:
    """The requested frame's ratio when fal names it (Kling v3 offers 1:1), else its orientation."""
    exact = request.aspect_ratio
    if exact in ("16:9", "9:16", "1:1"):
        return exact
    return "9:16" if request.height > request.width else "16:9"


def queue_root(app_id: str) -> str:
    """``fal-ai/veo3.1/fast`` -> ``fal-ai/veo3.1`` (namespaced apps keep three segments)."""
    parts = app_id.strip("/").split("/")
    keep = 3 if parts[0] in NAMESPACES else 2
    return "/".join(parts[:keep])


class FalServerError(TransientError):
    """A 5xx that fal's own servers answered (``x-fal-request-id`` or ``x-fal-error-type`` on it),
    not a gateway's: fal-client 1.0.3 ``_is_ingress_error`` retries only a 502-504 without
    ``x-fal-request-id``. On a completed request's result read it is the request's own failure."""


class FalAdapter(HostedAdapter):
    provider = "fal"
    default_base_url: ClassVar[str] = "https://queue.fal.run"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Key {key}"}

    def classify(self, provider: str, response: httpx.Response) -> ProviderError:
        error = classify_status(provider, response)
        fal_headers = {"x-fal-request-id", "x-fal-error-type"} & set(response.headers.keys())
        if response.status_code >= 500 and fal_headers:  # 504 included (a ProviderTimeoutError)
            return FalServerError(str(error), provider, error.raw)
        return error

    def app_for(self, request: GenerationRequest) -> str:
        """The endpoint id to submit to: the image-to-video app when there is a start image."""
        app_id = request.provider_model or "fal-ai/veo3.1/fast"
        if request.reference_image is None:
            return app_id
        return family(app_id).image_app(app_id)

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        app_id = request.provider_model or ""
        fam = family(app_id)
        unit = str(request.extra.get("fal_duration_suffix", fam.duration_unit))
        body: dict[str, Any] = {
            "prompt": request.spoken_prompt,
            "duration": f"{round(request.duration_s)}{unit}",
            "generate_audio": request.audio,
        }
        if request.reference_image is None or fam.aspect_with_image:
            body["aspect_ratio"] = aspect_for(request)
        resolution = resolution_for(fam, request.width, request.height)
        if resolution is not None:
            body["resolution"] = resolution
        if request.seed is not None and fam.seed:
            body["seed"] = request.seed
        if fam.auto_fix:
            body["auto_fix"] = False  # a refused prompt fails; it is never rewritten and billed
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        if request.reference_image is not None:
            frame = first_frame(request.reference_image, request.width, request.height, IMAGE_PORT)
            body[fam.image_field] = frame.data_uri()
        body.update(request.extra.get("fal_input", {}))
        return body

    def submit(self, request: GenerationRequest) -> str:
        app_id = self.app_for(request)
        body = self.build_body(request)
        hook = request.extra.get("webhook_url")
        params = {"fal_webhook": str(hook)} if hook else None
        data = self._http.json("POST", f"/{app_id}", json=body, params=params)
        request_id = data.get("request_id")
        if not request_id:
            raise ProviderFailureError("queue answer without request_id", self.provider, data)
        return f"{queue_root(app_id)}/requests/{request_id}"

    def find_submission(self, request: GenerationRequest, since: float) -> list[str]:
        """Reconcile (``FindsLostSubmissions``): the app's requests since ``since`` whose
        ``json_input`` is exactly the body this request sends (prompt, seed, duration, image...)."""
        app_id, body = self.app_for(request), self.build_body(request)
        start = datetime.fromtimestamp(since - RECONCILE_SKEW_S, UTC)
        params = {
            "endpoint_id": app_id,
            "start": start.isoformat().replace("+00:00", "Z"),
            "expand": "payloads",
            "limit": "50",
        }
        found: list[str] = []
        for _ in range(RECONCILE_PAGES):
            page = self._http.json(
                "GET", self._platform("/models/requests/by-endpoint"), params=params
            )
            with answer_shape(self.provider, page):
                found += [
                    f"{queue_root(app_id)}/requests/{item['request_id']}"
                    for item in page.get("items") or []
                    if isinstance(item, dict)
                    and item.get("request_id")
                    and item.get("json_input") == body
                ]
            if not page.get("has_more") or not page.get("next_cursor"):
                break
            params["cursor"] = str(page["next_cursor"])
        return found

    def _platform(self, path: str) -> str:
        """The Platform API beside the queue (a custom base URL, e.g. the emulator, serves both)."""
        if self.base_url == self.default_base_url:
            return f"{PLATFORM_API}{path}"
        return f"{self.base_url}/v1{path}"

    def _status(self, job_id: str) -> JobStatus:
        status = self._http.json("GET", f"/{job_id}/status")
        state = str(status.get("status", ""))
        if state == "IN_QUEUE":
            return running(status, queued=True)
        if state == "CANCELLED":  # listed as a queue state by CopilotKit/aimock's fal drift test
            return canceled(status, self.provider)
        if state != "COMPLETED":  # IN_PROGRESS, and any state fal adds later: keep waiting
            return running(status)
        if status.get("error"):
            if "cancel" in str(status.get("error_type") or status["error"]).lower():
                return canceled(status, self.provider)
            return failed(self._completed_error(str(status["error"]), status))
        return self._result(job_id, status)

    def _result(self, job_id: str, status: dict[str, Any]) -> JobStatus:
        """A completed request's video. A read that fails in transit (a reset, a timeout, a
        gateway's 502-504, a 429) is read again on the next poll, until the attempt's deadline, as
        fal-client 1.0.3 retries it (``client.py`` ``_should_retry``): fal made and bills the
        video. A 5xx fal's own servers answer (``FalServerError``) fails the request, unbilled
        (fal-client does not retry it either)."""
        try:
            result = self._http.json("GET", f"/{job_id}")
        except (RejectedInputError, SafetyRefusalError) as exc:
            return failed(exc)
        except FalServerError as exc:
            error = ProviderFailureError(f"result fetch failed: {exc}", self.provider, exc.raw)
            error.billing_hint = "provider_error_5xx"  # docs.fal.ai/faq: 5xx are never charged
            return failed(error)
        except TransientError:
            return running(status)
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
