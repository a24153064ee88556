"""Replicate predictions emulation (official-model and version endpoints, cancel)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from emulators import webhooks
from emulators.media import ClipSpec
from emulators.routes import _flow as flow
from emulators.routes import _replicate_rules as rules
from emulators.state import Emulator, Job, View
from emulators.wire import refused_key, replicate_problem, respond

PROVIDER = "replicate"
_STATUS = {
    "queued": "starting",
    "throttled": "starting",
    "running": "processing",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "canceled",
}
router = APIRouter(prefix="/replicate/v1")
LIST_PAGE = 100


def _authorized(request: Request) -> bool:
    """``Authorization: Bearer <token>`` ([SDK] replicate 1.0.7 ``client.py``); the older
    ``Token <token>`` scheme of Replicate's earlier docs is still accepted (UNCERTAIN)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    valid = scheme.lower() in ("bearer", "token") and bool(token.strip())
    return valid and not refused_key(request)


def _unauthenticated(request: Request) -> Response:
    sent = bool(request.headers.get("authorization"))
    detail = f"You did not pass {'a valid' if sent else 'an'} authentication token"
    return JSONResponse(replicate_problem(401, detail, title="Unauthenticated"), status_code=401)


def replicate_spec(model: str, data: dict[str, Any]) -> ClipSpec:
    """The clip a validated ``input`` asks for; absent fields take the schema defaults
    (Veo 3.1 on Replicate: 8 s, 1080p, 16:9, audio on) or, for scenario models, 5 s 720p."""
    veo = model in rules.SCHEMAS
    short = flow.resolution_short(data.get("resolution") or ("1080p" if veo else "720p"))
    width, height = flow.dims(str(data.get("aspect_ratio", "16:9")), short)
    audio = data.get("generate_audio", veo)
    seed = data.get("seed")
    return ClipSpec(
        provider=PROVIDER,
        model=model,
        prompt=str(data.get("prompt") or ""),
        duration_s=flow.seconds(data.get("duration", 8 if veo else 5)),
        width=width,
        height=height,
        audio=bool(audio),
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
    )


async def _create(request: Request, model: str | None) -> Response:
    if not _authorized(request):
        return _unauthenticated(request)
    emu = flow.emulator(request)
    try:
        raw, body = await flow.json_body(request)
        name = rules.resolve_model(model, body, frozenset(emu.scenario.models))
        spec = replicate_spec(name, rules.check_input(name, body.get("input")))
        header = request.headers.get("cancel-after")
        deadline = _duration(header) if header else None
    except rules.Refused as exc:
        return exc.response()
    except flow.BadRequest as exc:
        return JSONResponse(replicate_problem(422, str(exc)), status_code=422)
    created = await flow.create(request, PROVIDER, spec, raw)
    if created.response is not None:
        return created.response
    job = created.job
    assert job is not None
    job.extra["input"] = body.get("input")
    if deadline is not None:
        job.deadline = job.created_at + deadline
    if isinstance(body.get("webhook"), str):
        webhooks.schedule(
            emu, job, body["webhook"], "standard", lambda j: prediction(request, j, emu.view(j))
        )
    view = await _hold(emu, job, rules.prefer_wait(request.headers.get("prefer")))
    return respond(prediction(request, job, view), created.fault, status=201)


async def _hold(emu: Emulator, job: Job, wait_s: float | None) -> View:
    """``Prefer: wait``: keep the create open until the prediction ends or ``wait_s`` passes, then
    answer with the prediction as it stands ([DOC] create-a-prediction, sync mode)."""
    if wait_s is None:
        return View("queued", 0.0)
    until = time.monotonic() + wait_s
    view = emu.view(job)
    while view.phase not in ("succeeded", "failed", "canceled") and time.monotonic() < until:
        await asyncio.sleep(0.05)
        view = emu.view(job)
    return view


@router.post("/models/{owner}/{name}/predictions")
async def create_official(owner: str, name: str, request: Request) -> Response:
    return await _create(request, f"{owner}/{name}")


@router.post("/predictions")
async def create_version(request: Request) -> Response:
    return await _create(request, None)


def _duration(text: str) -> float:
    """Go-style durations as Replicate takes them: ``90s``, ``1m``, ``1m30s``, ``500ms``."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    found = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text.strip())
    if not found:
        raise flow.BadRequest(f"invalid Cancel-After duration {text!r}")
    return sum(float(value) * units[unit] for value, unit in found)


def prediction(request: Request, job: Job, view: View) -> dict[str, Any]:
    base = f"{flow.root(request)}/replicate/v1/predictions/{job.id}"
    finished = view.phase in ("succeeded", "failed", "canceled")
    body: dict[str, Any] = {
        "id": job.id,
        "model": job.model,
        "version": "emulated",
        "status": "aborted" if job.aborted else _STATUS[view.phase],
        "input": job.extra.get("input", {}),
        "output": None,
        "logs": "",
        "error": None,
        "metrics": {"predict_time": round(job.latency_s, 3)} if finished else {},
        "created_at": flow.iso(job.created_at),
        "started_at": flow.iso(job.started_at) if job.started_at else None,
        "completed_at": flow.iso(job.created_at + job.latency_s) if finished else None,
        "urls": {"get": base, "cancel": f"{base}/cancel", "web": base},
        "data_removed": False,
    }
    if view.phase == "succeeded":
        body["output"] = flow.file_url(request, job)
    elif view.phase == "failed":
        safety = job.outcome == "safety_refusal"
        body["error"] = "Prompt flagged by the safety checker (NSFW)" if safety else view.error
    return body


@router.get("/predictions")
async def list_predictions(request: Request) -> Response:
    """``GET /v1/predictions``: newest first, cursor pages ``{next, previous, results}`` (SDK
    replicate 1.0.7 prediction.py ``Predictions.list`` and pagination.py ``Page``); page size 100
    (UNCERTAIN: Replicate's own page size is not in the SDK)."""
    if not _authorized(request):
        return _unauthenticated(request)
    emu = flow.emulator(request)
    jobs = sorted(
        (j for j in emu.jobs.values() if j.provider == PROVIDER),
        key=lambda j: j.created_at,
        reverse=True,
    )
    offset = int(request.query_params.get("cursor") or 0)
    page = jobs[offset : offset + LIST_PAGE]
    more = offset + LIST_PAGE < len(jobs)
    base = f"{flow.root(request)}/replicate/v1/predictions"
    return respond(
        {
            "next": f"{base}?cursor={offset + LIST_PAGE}" if more else None,
            "previous": None,
            "results": [prediction(request, j, emu.view(j)) for j in page],
        }
    )


@router.get("/predictions/{prediction_id}")
async def get_prediction(prediction_id: str, request: Request) -> Response:
    if not _authorized(request):
        return _unauthenticated(request)
    polled = await flow.poll(request, PROVIDER, prediction_id)
    if polled.response is not None:
        return polled.response
    assert polled.job is not None
    assert polled.view is not None
    return respond(prediction(request, polled.job, polled.view), polled.fault)


@router.post("/predictions/{prediction_id}/cancel")
async def cancel_prediction(prediction_id: str, request: Request) -> Response:
    if not _authorized(request):
        return _unauthenticated(request)
    emu = flow.emulator(request)
    job = emu.jobs.get(prediction_id)
    if job is None:
        return rules.not_found().response()
    emu.cancel(job)
    return respond(prediction(request, job, emu.view(job)))


@router.get("/webhooks/default/secret")
async def webhook_secret(request: Request) -> Response:
    """The signing secret for webhooks (Standard Webhooks, ``whsec_...``)."""
    if not _authorized(request):
        return _unauthenticated(request)
    return respond({"key": flow.emulator(request).scenario.webhook_secret})
