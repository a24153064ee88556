"""Runway tasks API emulation (``X-Runway-Version`` required, ``THROTTLED`` over concurrency)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from emulators.media import ClipSpec
from emulators.routes import _flow as flow
from emulators.state import Job, View
from emulators.wire import bearer, error_response, respond

PROVIDER = "runway"
VERSION = "2024-11-06"
_STATUS = {
    "queued": "PENDING",
    "throttled": "THROTTLED",
    "running": "RUNNING",
    "succeeded": "SUCCEEDED",
    "failed": "FAILED",
    "canceled": "CANCELLED",
}
router = APIRouter(prefix="/runway/v1")


def _refused(request: Request) -> Response | None:
    if not bearer(request):
        return error_response(PROVIDER, 401, "Invalid API key")
    if request.headers.get("x-runway-version") != VERSION:
        return error_response(PROVIDER, 400, f"X-Runway-Version header must be {VERSION}")
    return None


def runway_spec(body: dict[str, Any], image: bool) -> ClipSpec:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise flow.BadRequest("model is required")
    if image and not body.get("promptImage"):
        raise flow.BadRequest("promptImage is required")
    ratio = str(body.get("ratio", ""))
    width, _, height = ratio.partition(":")
    if not (width.isdigit() and height.isdigit()):
        raise flow.BadRequest(f"ratio must look like 1280:720, got {ratio!r}")
    duration = body.get("duration")
    if not isinstance(duration, int) or not 2 <= duration <= 10:
        raise flow.BadRequest("duration must be an integer between 2 and 10")
    return ClipSpec(
        provider=PROVIDER,
        model=model,
        prompt=str(body.get("promptText", "")),
        duration_s=float(duration),
        width=int(width),
        height=int(height),
        audio=bool(body.get("audio", model.startswith("veo3"))),
        seed=body.get("seed") if isinstance(body.get("seed"), int) else None,
    )


@router.post("/{kind}")
async def create_task(kind: str, request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    if kind not in ("text_to_video", "image_to_video"):
        return error_response(PROVIDER, 404, "Not found")
    try:
        raw, body = await flow.json_body(request)
        spec = runway_spec(body, kind == "image_to_video")
    except flow.BadRequest as exc:
        return flow.bad_request(PROVIDER, exc)
    created = await flow.create(request, PROVIDER, spec, raw)
    if created.response is not None:
        return created.response
    assert created.job is not None
    return respond({"id": _uuid(created.job.id)}, created.fault)


def _uuid(hex_id: str) -> str:
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:32]}"


def task(request: Request, job: Job, view: View) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": _uuid(job.id),
        "createdAt": flow.iso(job.created_at),
        "status": _STATUS[view.phase],
    }
    if view.phase == "running":
        body["progress"] = round(view.progress, 3)
    elif view.phase == "succeeded":
        body["output"] = [flow.file_url(request, job)]
    elif view.phase == "failed":
        safety = job.outcome == "safety_refusal"
        body["failure"] = view.error
        body["failureCode"] = "SAFETY.INPUT.TEXT" if safety else "INTERNAL.BAD_OUTPUT.CODE01"
    return body


@router.get("/tasks/{task_id}")
async def get_task(task_id: str, request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    polled = await flow.poll(request, PROVIDER, task_id.replace("-", ""))
    if polled.response is not None:
        return polled.response
    assert polled.job is not None
    assert polled.view is not None
    return respond(task(request, polled.job, polled.view), polled.fault)


@router.delete("/tasks/{task_id}")
async def delete_task(task_id: str, request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    emu = flow.emulator(request)
    job = emu.jobs.get(task_id.replace("-", ""))
    if job is None:
        return error_response(PROVIDER, 404, "Task not found")
    if not emu.cancel(job):
        del emu.jobs[job.id]
    return Response(status_code=204)
