"""Luma emulation: legacy Dream Machine (``/dream-machine/v1``) and the Agents API (``/v1``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from emulators.media import ClipSpec
from emulators.routes import _flow as flow
from emulators.state import Job, View
from emulators.wire import bearer, error_response, respond

PROVIDER = "luma"
_LEGACY_STATE = {
    "queued": "queued",
    "throttled": "queued",
    "running": "dreaming",
    "succeeded": "completed",
    "failed": "failed",
    "canceled": "failed",
}
_AGENTS_STATE = _LEGACY_STATE | {"running": "processing"}
router = APIRouter(prefix="/luma")


def luma_spec(body: dict[str, Any], agents: bool) -> ClipSpec:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise flow.BadRequest("model is required")
    video = body.get("video") if agents else body
    if not isinstance(video, dict):
        raise flow.BadRequest("video settings must be an object")
    duration = str(video.get("duration", "5s"))
    allowed = ("5s", "10s") if agents else ("5s", "9s")
    if duration not in allowed:
        raise flow.BadRequest(f"duration must be one of {allowed}")
    short = flow.resolution_short(video.get("resolution"), 720)
    width, height = flow.dims(str(body.get("aspect_ratio", "16:9")), short)
    return ClipSpec(
        provider=PROVIDER,
        model=model,
        prompt=str(body.get("prompt", "")),
        duration_s=flow.seconds(duration),
        width=width,
        height=height,
    )


async def _create(request: Request, agents: bool) -> Response:
    if not bearer(request):
        return error_response(PROVIDER, 401, "Invalid API key")
    try:
        raw, body = await flow.json_body(request)
        spec = luma_spec(body, agents)
    except flow.BadRequest as exc:
        return flow.bad_request(PROVIDER, exc)
    created = await flow.create(request, PROVIDER, spec, raw)
    if created.response is not None:
        return created.response
    job = created.job
    assert job is not None
    job.extra["request"] = body
    job.extra["agents"] = agents
    view = View("queued", 0.0)
    return respond(generation(request, job, view), created.fault, status=201)


@router.post("/dream-machine/v1/generations/video")
async def create_legacy_video(request: Request) -> Response:
    return await _create(request, agents=False)


@router.post("/dream-machine/v1/generations")
async def create_legacy(request: Request) -> Response:
    return await _create(request, agents=False)


@router.post("/v1/generations")
async def create_agents(request: Request) -> Response:
    return await _create(request, agents=True)


def generation(request: Request, job: Job, view: View) -> dict[str, Any]:
    agents = bool(job.extra.get("agents"))
    states = _AGENTS_STATE if agents else _LEGACY_STATE
    body: dict[str, Any] = {
        "id": _uuid(job.id),
        "state": states[view.phase],
        "created_at": flow.iso(job.created_at),
        "model": job.model,
        "generation_type": "video",
        "failure_reason": None,
        "request": job.extra.get("request"),
        "assets": None,
    }
    if view.phase == "succeeded":
        url = flow.file_url(request, job)
        if agents:
            body["output"] = [{"type": "video", "url": url}]
        else:
            body["assets"] = {"video": url}
    elif view.phase in ("failed", "canceled"):
        safety = job.outcome == "safety_refusal"
        body["failure_reason"] = "Prompt was moderated" if safety else view.error
        if agents:
            body["failure_code"] = "content_moderated" if safety else "generation_failed"
    return body


def _uuid(hex_id: str) -> str:
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:32]}"


async def _get(request: Request, gen_id: str) -> Response:
    if not bearer(request):
        return error_response(PROVIDER, 401, "Invalid API key")
    polled = await flow.poll(request, PROVIDER, gen_id.replace("-", ""))
    if polled.response is not None:
        return polled.response
    assert polled.job is not None
    assert polled.view is not None
    return respond(generation(request, polled.job, polled.view), polled.fault)


@router.get("/dream-machine/v1/generations/{gen_id}")
async def get_legacy(gen_id: str, request: Request) -> Response:
    return await _get(request, gen_id)


@router.get("/v1/generations/{gen_id}")
async def get_agents(gen_id: str, request: Request) -> Response:
    return await _get(request, gen_id)


@router.delete("/dream-machine/v1/generations/{gen_id}")
async def delete_legacy(gen_id: str, request: Request) -> Response:
    if not bearer(request):
        return error_response(PROVIDER, 401, "Invalid API key")
    emu = flow.emulator(request)
    job = emu.jobs.get(gen_id.replace("-", ""))
    if job is None:
        return error_response(PROVIDER, 404, "Generation not found")
    emu.cancel(job)
    del emu.jobs[job.id]
    return Response(status_code=204)
