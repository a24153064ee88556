"""Replicate predictions emulation (official-model and version endpoints, cancel)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from emulators import webhooks
from emulators.media import ClipSpec
from emulators.routes import _flow as flow
from emulators.state import Job, View
from emulators.wire import bearer, error_response, respond

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


def replicate_spec(model: str, body: dict[str, Any]) -> ClipSpec:
    data = body.get("input")
    if not isinstance(data, dict) or not data.get("prompt"):
        raise flow.BadRequest("input.prompt is required")
    short = flow.resolution_short(data.get("resolution"), 720)
    width, height = flow.dims(str(data.get("aspect_ratio", "16:9")), short)
    return ClipSpec(
        provider=PROVIDER,
        model=model,
        prompt=str(data["prompt"]),
        duration_s=flow.seconds(data.get("duration", 5)),
        width=width,
        height=height,
        audio=bool(data.get("generate_audio", False)),
        seed=data.get("seed") if isinstance(data.get("seed"), int) else None,
    )


async def _create(request: Request, model: str | None) -> Response:
    if not bearer(request):
        return error_response(PROVIDER, 401, "You did not pass an authentication token")
    try:
        raw, body = await flow.json_body(request)
        name = model or str(body.get("version") or "")
        if not name:
            raise flow.BadRequest("version is required")
        spec = replicate_spec(name, body)
        header = request.headers.get("cancel-after")
        deadline = _duration(header) if header else None
    except flow.BadRequest as exc:
        return error_response(PROVIDER, 422, str(exc))
    created = await flow.create(request, PROVIDER, spec, raw)
    if created.response is not None:
        return created.response
    job = created.job
    assert job is not None
    job.extra["input"] = body.get("input")
    if deadline is not None:
        job.deadline = job.created_at + deadline
    if isinstance(body.get("webhook"), str):
        emu = flow.emulator(request)
        webhooks.schedule(
            emu, job, body["webhook"], "standard", lambda j: prediction(request, j, emu.view(j))
        )
    return respond(prediction(request, job, View("queued", 0.0)), created.fault, status=201)


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


@router.get("/predictions/{prediction_id}")
async def get_prediction(prediction_id: str, request: Request) -> Response:
    if not bearer(request):
        return error_response(PROVIDER, 401, "You did not pass an authentication token")
    polled = await flow.poll(request, PROVIDER, prediction_id)
    if polled.response is not None:
        return polled.response
    assert polled.job is not None
    assert polled.view is not None
    return respond(prediction(request, polled.job, polled.view), polled.fault)


@router.post("/predictions/{prediction_id}/cancel")
async def cancel_prediction(prediction_id: str, request: Request) -> Response:
    if not bearer(request):
        return error_response(PROVIDER, 401, "You did not pass an authentication token")
    emu = flow.emulator(request)
    job = emu.jobs.get(prediction_id)
    if job is None:
        return error_response(PROVIDER, 404, "Not found")
    emu.cancel(job)
    return respond(prediction(request, job, emu.view(job)))


@router.get("/webhooks/default/secret")
async def webhook_secret(request: Request) -> Response:
    """The signing secret for webhooks (Standard Webhooks, ``whsec_...``)."""
    if not bearer(request):
        return error_response(PROVIDER, 401, "You did not pass an authentication token")
    return respond({"key": flow.emulator(request).scenario.webhook_secret})
