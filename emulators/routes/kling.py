"""Kling direct API emulation: code envelopes, ``submitted/processing/succeed/failed``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from emulators.media import ClipSpec
from emulators.routes import _flow as flow
from emulators.state import Job, View
from emulators.wire import bearer, error_response, respond

PROVIDER = "kling"
KINDS = ("text2video", "image2video")
_STATUS = {
    "queued": "submitted",
    "throttled": "submitted",
    "running": "processing",
    "succeeded": "succeed",
    "failed": "failed",
    "canceled": "failed",
}
router = APIRouter(prefix="/kling/v1/videos")


def kling_spec(body: dict[str, Any], kind: str) -> ClipSpec:
    if kind == "image2video" and not body.get("image"):
        raise flow.BadRequest("image is required")
    prompt = str(body.get("prompt", ""))
    if len(prompt) > 2500:
        raise flow.BadRequest("prompt longer than 2500 characters")
    pro = body.get("mode") == "pro"
    width, height = flow.dims(str(body.get("aspect_ratio", "16:9")), 1080 if pro else 720)
    return ClipSpec(
        provider=PROVIDER,
        model=str(body.get("model_name", "kling-v1")),
        prompt=prompt,
        duration_s=flow.seconds(body.get("duration", "5")),
        width=width,
        height=height,
        audio=body.get("sound") == "on",
    )


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {"code": 0, "message": "SUCCEED", "request_id": "emulated", "data": data}


@router.post("/{kind}")
async def create_task(kind: str, request: Request) -> Response:
    if not bearer(request):
        return error_response(PROVIDER, 401, "Authorization failed")
    if kind not in KINDS:
        return error_response(PROVIDER, 404, "Not found")
    try:
        raw, body = await flow.json_body(request)
        spec = kling_spec(body, kind)
    except flow.BadRequest as exc:
        return flow.bad_request(PROVIDER, exc)
    created = await flow.create(request, PROVIDER, spec, raw)
    if created.response is not None:
        return created.response
    job = created.job
    assert job is not None
    job.extra["kind"] = kind
    data = {"task_id": job.id, "task_status": "submitted", "created_at": flow.unix(job.created_at)}
    return respond(_envelope(data), created.fault)


def task(request: Request, job: Job, view: View) -> dict[str, Any]:
    data: dict[str, Any] = {
        "task_id": job.id,
        "task_status": _STATUS[view.phase],
        "created_at": flow.unix(job.created_at) * 1000,
        "updated_at": flow.unix(job.created_at) * 1000,
        "task_info": {},
    }
    if view.phase == "succeeded":
        video = {
            "id": job.id,
            "url": flow.file_url(request, job),
            "duration": str(job.spec.duration_s),
        }
        data["task_result"] = {"videos": [video]}
    elif view.phase in ("failed", "canceled"):
        safety = job.outcome == "safety_refusal"
        data["task_status_msg"] = (
            "Failure to pass the risk control system (content safety)" if safety else view.error
        )
    return data


@router.get("/{kind}/{task_id}")
async def get_task(kind: str, task_id: str, request: Request) -> Response:
    if not bearer(request):
        return error_response(PROVIDER, 401, "Authorization failed")
    polled = await flow.poll(request, PROVIDER, task_id)
    if polled.response is not None:
        if polled.response.status_code == 404:
            return JSONResponse({"code": 1203, "message": "task not found"}, status_code=404)
        return polled.response
    assert polled.job is not None
    assert polled.view is not None
    return respond(_envelope(task(request, polled.job, polled.view)), polled.fault)
