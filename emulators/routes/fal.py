"""fal.ai queue emulation: submit, status (202 then 200), result, cancel.

What fal refuses at the gateway is refused at submit: a missing or malformed ``Authorization``
header (401) and an app id fal does not serve (404). What an app's runner refuses is accepted by the
queue and fails on the result fetch, as on fal: the request goes IN_QUEUE -> IN_PROGRESS ->
COMPLETED and ``GET .../requests/{id}`` answers 422 with pydantic-style ``detail`` items
(emulators/routes/fal_apps.py has the schemas and their sources). There is no FAILED queue state: a
refused prompt completes and its result answers 422 ``content_policy_violation``; a
``result_error`` fault makes the result fetch fail with 500.

App ids named in the scenario's ``models`` are known too (lenient schema: only ``prompt`` is
required), so test scenarios can declare synthetic apps; that is emulator configuration, not fal.
No idempotency: fal documents none and fal-client 1.0.3 sends no idempotency header, so a repeated
submit is a second (billed) request.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from emulators import webhooks
from emulators.media import ClipSpec, data_uri_bytes
from emulators.routes import _flow as flow
from emulators.routes.fal_apps import APPS, LENIENT, OTHER_ENDPOINTS, App, app_root, validate
from emulators.state import Emulator, Job, View
from emulators.wire import error_response, refused_key, respond

PROVIDER = "fal"
router = APIRouter(prefix="/fal")
# shotline's loopback placeholder (adapters.factory.EMULATOR_KEY) has no ``id:secret`` colon; it is
# let through so emulated runs need no credentials. Every other ``Key`` value must have the colon.
PLACEHOLDER_KEY = "emulator-key"
_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_KNOWN_ROOTS = {app_root(app_id) for app_id in APPS}


def _unauthorized(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=401)


def auth_refusal(request: Request) -> Response | None:
    """fal's 401 for a request it cannot authenticate, else ``None``.

    - ``Key <key_id>:<key_secret>`` is the API-key scheme (SDK fal-client 1.0.3 auth.py
      ``AuthCredentials("Key", ...)``; fal.ai/docs/platform-apis/authentication, 2026-12-04).
      A ``Key`` without the colon: 401 "Invalid Key Authorization header format. Expected
      '<key_id>:<key_secret>'." (exact text quoted from fal answers in 3P code, e.g. the
      hunyuan/kling fal wrappers found by find_string, and a 401 trace of rest.fal.ai).
    - ``Bearer`` is accepted only for a user access token (a JWT from ``fal auth login``: SDK
      fal-client 1.0.3 auth.py ``AuthCredentials("Bearer", ...)``). An API key sent as Bearer
      is refused with 401 (prismix.dev/guides/fal-not-working: "API 401 - wrong auth scheme");
      the body text "Unauthorized" is UNCERTAIN (3P: Monsoft-Solutions PHASE_0_DISCOVERY.md).
    - No header: 401 "Authorization header is required" (fal-ai/fal-js#169, storage API; the
      queue's wording is UNCERTAIN).
    """
    value = request.headers.get("authorization", "").strip()
    if not value:
        return _unauthorized("Authorization header is required")
    if refused_key(request):  # well-formed but unknown or revoked: wording UNCERTAIN
        return _unauthorized("Unauthorized")
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() == "key" and token:
        if ":" in token or token == PLACEHOLDER_KEY:
            return None
        return _unauthorized(
            "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."
        )
    if scheme.lower() == "bearer" and _JWT.match(token):
        return None
    return _unauthorized("Unauthorized")


def resolve_app(request: Request, app_id: str) -> tuple[App | None, bool]:
    """``(schema, known)``: the app's schema (``None``: a path the app does not declare), and
    whether the gateway routes the id at all."""
    if app_id in APPS:
        return APPS[app_id], True
    scenario_models = flow.emulator(request).scenario.models
    if app_id in OTHER_ENDPOINTS or app_id in scenario_models:
        return LENIENT, True
    return None, app_root(app_id) in _KNOWN_ROOTS


def _lenient_seconds(value: Any, default: float) -> float:
    try:
        return flow.seconds(value)
    except flow.BadRequest:
        return default


def fal_spec(app_id: str, app: App, body: dict[str, Any], ok: bool) -> ClipSpec:
    """The clip the request would render; a refused request renders a 1 s placeholder."""
    aspect = str(body.get("aspect_ratio", "16:9"))
    resolution = body.get("resolution")
    if aspect not in flow.ASPECTS:
        aspect = "16:9"
    if resolution not in ("720p", "1080p", "4k"):
        resolution = f"{app.default_short}p"
    width, height = flow.dims(aspect, flow.resolution_short(str(resolution)))
    default = 5.0 if "kling" in app_id else 8.0  # [FALJS] defaults: Kling "5", Veo "8s"
    return ClipSpec(
        provider=PROVIDER,
        model=app_id,
        prompt=str(body.get("prompt") or ""),
        duration_s=_lenient_seconds(body.get("duration", default), default) if ok else 1.0,
        width=width,
        height=height,
        audio=bool(body.get("generate_audio", True)) if ok else False,
        seed=body.get("seed") if isinstance(body.get("seed"), int) else None,
        # [FALJS] the image-to-video inputs' first frame: Veo's ``image_url``, Kling's
        # ``start_image_url`` (``fal_apps``); the clip starts from it when sent inline
        first_frame=data_uri_bytes(body.get("image_url") or body.get("start_image_url")),
    )


def _runner_error(app_id: str, app: App | None, body: dict[str, Any]) -> tuple[int, Any] | None:
    """What the app's runner will answer instead of a result (fal-ai/fal c6f0afaa
    ``projects/fal/src/fal/api/api.py``: an undeclared path is 404 "Path ... not found")."""
    if app is None:
        path = "/" + app_id.removeprefix(app_root(app_id)).strip("/")
        return 404, {"detail": f"Path {path} not found"}
    errors = validate(app, body)
    return (422, {"detail": errors}) if errors else None


@router.post("/{app_path:path}")
async def submit(app_path: str, request: Request) -> Response:
    refused = auth_refusal(request)
    if refused is not None:
        return refused
    app_id = app_path.strip("/")
    app, known = resolve_app(request, app_id)
    if not known:
        # UNCERTAIN: fal's exact status and wording for an app it does not serve.
        return JSONResponse({"detail": f"Application '{app_id}' not found"}, status_code=404)
    try:
        raw, body = await flow.json_body(request)
    except flow.BadRequest as exc:
        detail = [{"type": "json_invalid", "loc": ["body"], "msg": str(exc), "input": None}]
        return JSONResponse({"detail": detail}, status_code=422)
    problem = _runner_error(app_id, app, body)
    spec = fal_spec(app_id, app or LENIENT, body, ok=problem is None)
    created = await flow.create(request, PROVIDER, spec, raw)
    if created.response is not None:
        return created.response
    job = created.job
    assert job is not None
    job.extra["input"] = body
    if problem is not None:
        job.extra["fal_runner_error"] = problem
    base = f"{flow.root(request)}/fal/{app_root(app_id)}/requests/{job.id}"
    hook = request.query_params.get("fal_webhook")
    if hook:
        emu = flow.emulator(request)
        webhooks.schedule(emu, job, hook, "fal", lambda j: _hook_payload(request, j, emu))
    answer = {
        "request_id": job.id,
        "gateway_request_id": job.id,
        "response_url": base,
        "status_url": f"{base}/status",
        "cancel_url": f"{base}/cancel",
        "status": "IN_QUEUE",
        "queue_position": 0,
    }
    return respond(answer, created.fault)


def _hook_payload(request: Request, job: Job, emu: Emulator) -> dict[str, Any]:
    """docs.fal.ai/model-endpoints/webhooks: ``status`` OK with the result as ``payload``, or
    ERROR with ``error`` "Invalid status code: N" and the error body as ``payload`` (null only
    when it could not be serialised, with ``payload_error`` then)."""
    result = respond_result(request, job, emu.view(job))
    payload = json.loads(bytes(result.body))
    ok = result.status_code == 200
    return {
        "request_id": job.id,
        "gateway_request_id": job.id,
        "status": "OK" if ok else "ERROR",
        "payload": payload,
        "error": None if ok else f"Invalid status code: {result.status_code}",
    }


def status_body(job: Job, view: View, base: str) -> tuple[dict[str, Any], int]:
    if view.phase in ("queued", "throttled"):
        return {"status": "IN_QUEUE", "queue_position": 0, "response_url": base}, 202
    if view.phase == "running":
        return {"status": "IN_PROGRESS", "logs": [], "response_url": base}, 202
    body: dict[str, Any] = {
        "status": "COMPLETED",
        "logs": [],
        "metrics": {"inference_time": round(job.latency_s, 3)},
        "response_url": base,
    }
    if view.phase == "canceled":
        body["error"] = "Request was cancelled"
        body["error_type"] = "request_cancelled"
    elif job.outcome == "job_failure":
        body["error"] = view.error or "Runner failed"
        body["error_type"] = "runner_failure"
    return body, 200


@router.get("/v1/models/requests/by-endpoint")
async def list_requests(request: Request) -> Response:
    """fal's Platform API request list (``api.fal.ai/v1``; 3P clients of it, see adapters/fal.py
    ``PLATFORM_API``; UNCERTAIN: fields beyond request_id/json_input/has_more/next_cursor): the
    endpoint's requests since ``start``, newest first, inputs with ``expand=payloads``."""
    refused = auth_refusal(request)
    if refused is not None:
        return refused
    query = request.query_params
    endpoint = query.get("endpoint_id")
    if not endpoint:
        detail = [{"type": "missing", "loc": ["query", "endpoint_id"], "msg": "Field required"}]
        return JSONResponse({"detail": detail}, status_code=422)
    start = flow.epoch(query["start"]) if query.get("start") else 0.0
    jobs = [
        j
        for j in flow.emulator(request).jobs.values()
        if j.provider == PROVIDER and j.model == endpoint and flow.wall(j.created_at) >= start
    ]
    jobs.sort(key=lambda j: j.created_at, reverse=True)
    offset, limit = int(query.get("cursor") or 0), int(query.get("limit") or 50)
    page = jobs[offset : offset + limit]
    payloads = query.get("expand") == "payloads"
    items = [_listed(j, payloads) for j in page]
    more = offset + limit < len(jobs)
    return respond(
        {"items": items, "has_more": more, "next_cursor": str(offset + limit) if more else None}
    )


def _listed(job: Job, payloads: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "request_id": job.id,
        "endpoint_id": job.model,
        "started_at": flow.iso(job.created_at),
    }
    if payloads:
        item["json_input"] = job.extra.get("input")
    return item


@router.get("/{path:path}")
async def queue_get(path: str, request: Request) -> Response:
    refused = auth_refusal(request)
    if refused is not None:
        return refused
    head, _, tail = path.partition("/requests/")
    request_id, _, action = tail.partition("/")
    polled = await flow.poll(request, PROVIDER, request_id)
    if polled.response is not None:
        return polled.response
    job, view = polled.job, polled.view
    assert job is not None
    assert view is not None
    base = f"{flow.root(request)}/fal/{head}/requests/{request_id}"
    if action == "status":
        body, code = status_body(job, view, base)
        return respond(body, polled.fault, status=code)
    return respond_result(request, job, view)


def respond_result(request: Request, job: Job, view: View) -> Response:
    if view.phase not in ("succeeded", "failed", "canceled"):
        return JSONResponse({"detail": "Request is still in progress"}, status_code=400)
    runner_error = job.extra.get("fal_runner_error")
    if isinstance(runner_error, tuple) and view.phase != "canceled":
        status, body = runner_error
        return JSONResponse(body, status_code=status)
    if job.outcome == "safety_refusal":
        detail = [
            {
                "loc": ["body", "prompt"],
                "msg": job.message
                or "The content could not be processed: flagged by a "
                "content checker (content policy).",
                "type": "content_policy_violation",
            }
        ]
        return JSONResponse({"detail": detail}, status_code=422)
    if job.outcome == "result_error":
        return error_response(PROVIDER, 500, "Internal server error while fetching the result")
    if view.phase != "succeeded":
        return JSONResponse({"detail": view.error or "Request failed"}, status_code=500)
    url = flow.file_url(request, job)
    size = flow.emulator(request).clip_path(job).stat().st_size
    video = {"url": url, "content_type": "video/mp4", "file_name": "output.mp4", "file_size": size}
    return respond({"video": video, "seed": job.spec.seed or 0})


@router.put("/{path:path}")
async def cancel(path: str, request: Request) -> Response:
    refused = auth_refusal(request)
    if refused is not None:
        return refused
    request_id = path.partition("/requests/")[2].partition("/")[0]
    emu = flow.emulator(request)
    job = emu.jobs.get(request_id)
    if job is None:
        return JSONResponse({"detail": "Request not found"}, status_code=404)
    if emu.cancel(job):
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)
    return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
