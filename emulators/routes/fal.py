"""fal.ai queue emulation: submit, status (202 then 200), result, cancel.

As on fal there is no FAILED queue state: a refused prompt completes and its result fetch answers
422 ``content_policy_violation``; a ``result_error`` fault makes the result fetch fail with 500.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from emulators import webhooks
from emulators.media import ClipSpec
from emulators.routes import _flow as flow
from emulators.state import Emulator, Job, View
from emulators.wire import bearer, error_response, respond

PROVIDER = "fal"
NAMESPACES = ("workflows", "comfy")
router = APIRouter(prefix="/fal")


def fal_spec(app_id: str, body: dict[str, Any]) -> ClipSpec:
    if not body.get("prompt"):
        raise flow.BadRequest("prompt is required")
    short = flow.resolution_short(body.get("resolution"), 720)
    width, height = flow.dims(str(body.get("aspect_ratio", "16:9")), short)
    return ClipSpec(
        provider=PROVIDER,
        model=app_id,
        prompt=str(body["prompt"]),
        duration_s=flow.seconds(body.get("duration", "5")),
        width=width,
        height=height,
        audio=bool(body.get("generate_audio", False)),
        seed=body.get("seed") if isinstance(body.get("seed"), int) else None,
    )


def _root(app_id: str) -> str:
    parts = app_id.split("/")
    return "/".join(parts[: 3 if parts[0] in NAMESPACES else 2])


@router.post("/{app_path:path}")
async def submit(app_path: str, request: Request) -> Response:
    if not bearer(request):
        return error_response(PROVIDER, 401, "No user found for Key ID and Secret")
    app_id = app_path.strip("/")
    try:
        raw, body = await flow.json_body(request)
        spec = fal_spec(app_id, body)
    except flow.BadRequest as exc:
        return JSONResponse({"detail": [{"loc": ["body"], "msg": str(exc)}]}, status_code=422)
    created = await flow.create(request, PROVIDER, spec, raw)
    if created.response is not None:
        return created.response
    job = created.job
    assert job is not None
    base = f"{flow.root(request)}/fal/{_root(app_id)}/requests/{job.id}"
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
    result = respond_result(request, job, emu.view(job))
    payload = json.loads(bytes(result.body))
    ok = result.status_code == 200
    return {
        "request_id": job.id,
        "gateway_request_id": job.id,
        "status": "OK" if ok else "ERROR",
        "payload": payload if ok else None,
        "error": None if ok else json.dumps(payload),
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


@router.get("/{path:path}")
async def queue_get(path: str, request: Request) -> Response:
    if not bearer(request):
        return error_response(PROVIDER, 401, "No user found for Key ID and Secret")
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
    if not bearer(request):
        return error_response(PROVIDER, 401, "No user found for Key ID and Secret")
    request_id = path.partition("/requests/")[2].partition("/")[0]
    emu = flow.emulator(request)
    job = emu.jobs.get(request_id)
    if job is None:
        return error_response(PROVIDER, 404, "Request not found")
    if emu.cancel(job):
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)
    return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
