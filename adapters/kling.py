"""Kling direct API. Video runs on the vendor's new standard: ``POST /{text,image}-to-video/{model}``
with ``prompt``/``contents``, ``settings`` and ``options``, an API key, and one ``GET /tasks`` for
every task (kling.ai/document-api, 3-0-omni and 3-0-turbo pages, snapshot 2026-09-20). A key given
as ``AK:SK`` uses the legacy ``/v1/videos/{text2video,image2video}`` standard with a per-request
HS256 JWT instead, since the new standard refuses AK/SK (401/1002); Kling still serves it.

Exactly-once submission: every create carries ``external_task_id`` derived from the attempt key
(``extra["attempt_key"]``, else ``extra["idempotency_key"]``). Kling keeps it unique per account
and refuses a repeat with 400/1201 "already exists" without creating or billing a task, and lets a
task be looked up by it; so a resubmission after a lost response finds the first task instead of
paying twice (``find_by_reference``). Kling has no cancel endpoint. Error codes: 1300/1301 policy
and safety, 1302/1303 rate and concurrency, 1100-1103 account, 1000-1004 auth, 1200-1203
parameters, 5000-5002 server.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from adapters._hosted import HostedAdapter, JobStatus, failed, running, succeeded
from adapters._http import body_of, classify_status, error_message, job_lost, parse_retry_after
from adapters._kling_legacy import (
    IMAGE_PORT,
    KlingJWT,
    code_error,
    failure,
    hs256_jwt,
    legacy_body,
    legacy_status,
)
from adapters.base import GenerationRequest
from adapters.errors import (
    ProviderError,
    ProviderFailureError,
    RejectedInputError,
    TransientError,
)
from adapters.image_port import first_frame
from foundation.spoken import with_negative

__all__ = ["IMAGE_PORT", "KlingAdapter", "KlingJWT", "code_error", "hs256_jwt"]

# Per path model: (has ``settings.audio``, has ``settings.multi_shot``). Turbo renders native audio
# with no field for it; 2.5 Turbo has no audio; only kling-3.0 has multi_shot (default true).
_FIELDS = {
    "kling-3.0": (True, True),
    "kling-3.0-turbo": (False, False),
    "kling-2.6": (True, False),
    "kling-2.5-turbo": (False, False),
}
# the legacy ``model_name`` of each path model, and back
LEGACY_NAMES = {
    "kling-3.0": "kling-v3",
    "kling-2.6": "kling-v2-6",
    "kling-2.5-turbo": "kling-v2-5-turbo",
}
PATH_NAMES = {legacy: path for path, legacy in LEGACY_NAMES.items()}
PROMPT_MAX = 2500  # the documented t2v cap is 3072, "recommended <= 2500"; turbo i2v is 2500


class KlingAdapter(HostedAdapter):
    provider = "kling"
    default_base_url: ClassVar[str] = "https://api-singapore.klingai.com"

    def __init__(self, *, api_key: SecretStr | str | None, **kwargs: Any) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        self.legacy = bool(key and ":" in key)
        super().__init__(api_key=api_key, **kwargs)

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
        """The new-standard create body for ``request`` (the legacy one: ``legacy_body``)."""
        model = path_model(request)
        audio_field, multi_shot = _FIELDS.get(model, (True, False))
        settings: dict[str, Any] = {
            "duration": round(request.duration_s),
            "resolution": resolution(request),
        }
        if audio_field:
            settings["audio"] = "native" if request.audio else "off"
        if multi_shot:
            settings["multi_shot"] = False  # one continuous shot, whatever the prompt says
        body: dict[str, Any] = {"settings": settings}
        if request.reference_image is None:
            settings["aspect_ratio"] = aspect(request)
            body["prompt"] = prompt_text(request)
        else:  # image-to-video takes its aspect ratio from the first frame (no field for it)
            frame = first_frame(request.reference_image, request.width, request.height, IMAGE_PORT)
            body["contents"] = [
                {"type": "prompt", "text": prompt_text(request)},
                {"type": "first_frame", "url": frame.base64()},
            ]
        ref = reference(request)
        if ref:
            body["options"] = {"external_task_id": ref}
        return body

    def submit(self, request: GenerationRequest) -> str:
        ref = reference(request)
        try:
            return self._create(request)
        except RejectedInputError as exc:
            if not ref or "already exists" not in str(exc):
                raise
            found = self.find_by_reference(ref)  # our earlier create of this attempt went through
            if found is None:
                raise TransientError(
                    f"task {ref} exists but is not visible yet", self.provider
                ) from exc
            return found

    def _create(self, request: GenerationRequest) -> str:
        if self.legacy:
            kind, body = legacy_body(request, LEGACY_NAMES, reference(request), resolution(request))
            data = self._envelope("POST", f"/v1/videos/{kind}", json=body)
            return f"{kind}/{_required(data, 'task_id', self.provider)}"
        product = "image-to-video" if request.reference_image else "text-to-video"
        path = f"/{product}/{path_model(request)}"
        data = self._envelope("POST", path, json=self.build_body(request))
        return _required(data, "id", self.provider)

    def find_by_reference(self, ref: str) -> str | None:
        """The job id of the task created with ``external_task_id=ref``, or ``None`` when Kling
        has none (a lost create that never arrived: safe to submit again with the same ref)."""
        if self.legacy:
            for kind in ("text2video", "image2video"):
                try:
                    data = self._envelope("GET", f"/v1/videos/{kind}/{ref}")
                except RejectedInputError:  # 1201 "Task not found by id/external id"
                    continue
                return f"{kind}/{_required(data, 'task_id', self.provider)}"
            return None
        tasks = self._tasks({"external_task_ids": ref})
        return str(tasks[0]["id"]) if tasks else None

    def find_submission(self, request: GenerationRequest, since: float) -> list[str]:
        """Client reference (``FindsLostSubmissions``): the task created with this attempt's
        ``external_task_id``, whenever it was created."""
        ref = reference(request)
        found = self.find_by_reference(ref) if ref else None
        return [found] if found else []

    def _envelope(self, method: str, path: str, **kwargs: Any) -> Any:
        data = self._http.json(method, path, **kwargs)
        code = data.get("code", 0)
        if code:
            if not isinstance(code, int | float | str) or not str(code).lstrip("-").isdigit():
                raise ProviderFailureError(f"envelope code {str(code)[:40]!r}", self.provider, data)
            raise code_error(self.provider, int(code), str(data.get("message", "")), data, None)
        if "data" not in data:
            raise TransientError("envelope without data", self.provider, data)
        return data["data"]

    def _tasks(self, params: dict[str, str]) -> list[dict[str, Any]]:
        data = self._envelope("GET", "/tasks", params=params)
        if not isinstance(data, list):
            raise TransientError("task query without a list", self.provider, data)
        return [task for task in data if isinstance(task, dict)]

    def _status(self, job_id: str) -> JobStatus:
        kind, _, task_id = job_id.rpartition("/")
        if kind:
            return legacy_status(self.provider, self._envelope("GET", f"/v1/videos/{job_id}"))
        tasks = [task for task in self._tasks({"task_ids": task_id}) if task.get("id") == task_id]
        if not tasks:  # an unknown id is simply absent ([SPEC] LIVE: 200, data: [])
            raise job_lost(self.provider, task_id, "HTTP 200: not in GET /tasks?task_ids=")
        return task_status(self.provider, tasks[0])

    def _cancel(self, job_id: str) -> bool:
        return False


def task_status(provider: str, task: dict[str, Any]) -> JobStatus:
    """A new-standard task record: ``submitted, processing, succeeded, failed``; any other status
    is waited on (the vendor may add states), never read as a failure."""
    status = str(task.get("status", ""))
    if status in ("succeeded", "succeed"):
        videos = [out for out in task.get("outputs") or [] if out.get("type") == "video"]
        if not videos or not videos[0].get("url"):
            return failed(ProviderFailureError("succeeded without a video", provider, task))
        return succeeded(task, str(videos[0]["url"]))
    if status == "failed":
        return failed(failure(provider, str(task.get("message") or "task failed"), task))
    return running(task, queued=status == "submitted")


def _required(data: Any, key: str, provider: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if not value:
        raise ProviderFailureError(f"task without {key}", provider, data)
    return str(value)


def path_model(request: GenerationRequest) -> str:
    model = request.provider_model or "kling-3.0"
    return PATH_NAMES.get(model, model)


def reference(request: GenerationRequest) -> str | None:
    """The attempt's ``external_task_id`` (Kling's length limit is undocumented: long keys are
    hashed to 41 characters)."""
    key = request.extra.get("attempt_key") or request.extra.get("idempotency_key")
    if not key:
        return None
    text = str(key)
    return text if len(text) <= 64 else "shotline-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def resolution(request: GenerationRequest) -> str:
    short = min(request.width, request.height)
    return "4k" if short >= 2160 else "1080p" if short >= 1080 else "720p"


def aspect(request: GenerationRequest) -> str:
    if request.width == request.height:
        return "1:1"
    return "9:16" if request.height > request.width else "16:9"


def prompt_text(request: GenerationRequest) -> str:
    """The prompt; the new standard has no ``negative_prompt``: negatives go in the prompt."""
    return with_negative(request.spoken_prompt, request.negative_prompt)[:PROMPT_MAX]
