"""Luma emulation: legacy Dream Machine (``/dream-machine/v1``) and the Agents API (``/v1``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from emulators.media import ClipSpec
from emulators.routes import _flow as flow
from emulators.routes import _luma_extend as extend
from emulators.routes import luma_rules as rules
from emulators.state import Job, View
from emulators.wire import bearer, error_response, refused_key, respond

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


def rules_model(request: Request, model: str, agents: bool) -> str:
    """The real model whose rules apply. A test scenario may declare synthetic names
    ``<real id>-<label>`` (one fault profile each); only names it declares get the real one's rules,
    so an unknown id from a client is still refused."""
    ids = rules.AGENTS_MODELS if agents else rules.LEGACY_MODELS
    if model in ids or model not in flow.emulator(request).scenario.models:
        return model
    return max((m for m in ids if model.startswith(m + "-")), key=len, default=model)


def luma_spec(request: Request, body: dict[str, Any], agents: bool) -> tuple[ClipSpec, float]:
    """The clip a create renders, and the length of the video it makes or ends (an extension:
    the chain of generations it continues, emulators/routes/_luma_extend.py)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise rules.Refused("model is required")
    real = rules_model(request, model, agents)
    if agents:
        video = rules.check_agents(real, body)
    else:
        rules.check_legacy(real, body)
        video = body
    gen_id = extend.generation_ref(video) if agents else None
    duration = str(video.get("duration", "5s"))
    short = flow.resolution_short(video.get("resolution"), 720 if agents else 540)
    width, height = flow.dims(str(body.get("aspect_ratio", "16:9")), short)
    spec = ClipSpec(
        provider=PROVIDER,
        model=model,
        prompt=str(body.get("prompt", "")),
        duration_s=flow.seconds(duration),
        width=width,
        height=height,
    )
    if gen_id is None:
        return spec, spec.duration_s
    emu = flow.emulator(request)
    extension = extend.check_extension(emu, bearer(request), gen_id, video)
    return extend.extension_spec(spec, extension, emu), extension.total_s


async def _create(request: Request, agents: bool) -> Response:
    # [LEGACY]/[AGENTS] both SDKs send ``Authorization: Bearer <key>`` (lumaai 1.21.0 and
    # luma-agents 0.5.0 ``_client.py``); [ERRORS] 401 for a missing or invalid key
    if not _authorized(request):
        return error_response(PROVIDER, 401, "Invalid API key")
    try:
        raw, body = await flow.json_body(request)
        spec, chain_s = luma_spec(request, body, agents)
    except flow.BadRequest as exc:
        return error_response(PROVIDER, 400, str(exc))
    except rules.Refused as exc:
        return error_response(PROVIDER, exc.status, str(exc))
    created = await flow.create(request, PROVIDER, spec, raw)
    if created.response is not None:
        return created.response
    job = created.job
    assert job is not None
    job.extra["request"] = body
    job.extra["agents"] = agents
    job.extra["caller"], job.extra["chain_s"] = bearer(request), chain_s
    view = View("queued", 0.0)
    return respond(generation(request, job, view), created.fault, status=201)


def _authorized(request: Request) -> bool:
    sent = bool(bearer(request)) and request.headers.get("authorization", "").startswith("Bearer ")
    return sent and not refused_key(request)


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
    if agents:  # [AGENTS] generation.py: ``type`` names the kind of generation
        body["type"] = "video"
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
    if not _authorized(request):
        return error_response(PROVIDER, 401, "Invalid API key")
    polled = await flow.poll(request, PROVIDER, gen_id.replace("-", ""))
    if polled.response is not None:
        return polled.response
    assert polled.job is not None
    assert polled.view is not None
    return respond(generation(request, polled.job, polled.view), polled.fault)


@router.get("/dream-machine/v1/generations")
async def list_legacy(request: Request, limit: int = 10, offset: int = 0) -> Response:
    """[LEGACY] lumaai 1.21.0 ``generations.list(limit, offset)`` -> ``GenerationListResponse``
    (``generations``, ``count``, ``has_more``, ``limit``, ``offset``), newest first (UNCERTAIN:
    the order and the default and largest page size are not documented; 10 and 100 here)."""
    if not _authorized(request):
        return error_response(PROVIDER, 401, "Invalid API key")
    if not (1 <= limit <= 100 and offset >= 0):
        return error_response(PROVIDER, 400, "limit must be 1-100 and offset >= 0")
    emu = flow.emulator(request)
    mine = [j for j in emu.jobs.values() if j.provider == PROVIDER and not j.extra.get("agents")]
    mine.sort(key=lambda job: job.created_at, reverse=True)
    page = mine[offset : offset + limit]
    generations = [generation(request, job, emu.view(job)) for job in page]
    body = {
        "generations": generations,
        "count": len(generations),
        "has_more": offset + limit < len(mine),
        "limit": limit,
        "offset": offset,
    }
    return respond(body, None)


@router.get("/dream-machine/v1/generations/{gen_id}")
async def get_legacy(gen_id: str, request: Request) -> Response:
    return await _get(request, gen_id)


@router.get("/v1/generations/{gen_id}")
async def get_agents(gen_id: str, request: Request) -> Response:
    return await _get(request, gen_id)


@router.delete("/dream-machine/v1/generations/{gen_id}")
async def delete_legacy(gen_id: str, request: Request) -> Response:
    if not _authorized(request):
        return error_response(PROVIDER, 401, "Invalid API key")
    emu = flow.emulator(request)
    job = emu.jobs.get(gen_id.replace("-", ""))
    if job is None:
        return error_response(PROVIDER, 404, "Generation not found")
    emu.cancel(job)
    del emu.jobs[job.id]
    return Response(status_code=204)
