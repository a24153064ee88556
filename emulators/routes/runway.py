"""Runway tasks API emulation (``X-Runway-Version`` required, ``THROTTLED`` over concurrency)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from emulators.media import ClipSpec, data_uri_bytes
from emulators.routes import _flow as flow
from emulators.routes import runway_rules as rules
from emulators.state import Job, View
from emulators.wire import bearer, error_response, refused_key, respond, unknown_job_response

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
    # [SDK] runwayml 5.24.0 _client.py: ``Authorization: Bearer`` and ``X-Runway-Version``;
    # docs.dev.runwayml.com/errors/errors: 401 for a bad key, 400 for a bad request
    if not bearer(request) or not request.headers.get("authorization", "").startswith("Bearer "):
        return error_response(PROVIDER, 401, "Invalid API key")
    if refused_key(request):
        return error_response(PROVIDER, 401, "Invalid API key")
    if request.headers.get("x-runway-version") != VERSION:
        return error_response(PROVIDER, 400, f"X-Runway-Version header must be {VERSION}")
    return None


def rules_model(request: Request, model: str, image: bool) -> str:
    """The real model whose rules apply. A test scenario may declare synthetic names
    ``<real id>-<label>`` (one fault profile each); only names it declares get the real one's rules,
    so an unknown id from a client is still refused."""
    if rules.known(model, image) or model not in flow.emulator(request).scenario.models:
        return model
    ids = rules.IMAGE_MODELS if image else rules.TEXT_MODELS
    return max((m for m in ids if model.startswith(m + "-")), key=len, default=model)


def runway_spec(request: Request, body: dict[str, Any], image: bool) -> ClipSpec:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise flow.BadRequest("model is required")
    rule = rules.check(rules_model(request, model, image), body, image)
    ratio = str(body.get("ratio", "1280:720"))
    width, _, height = ratio.partition(":")
    if not (width.isdigit() and height.isdigit()):  # UNCERTAIN models: auto_* ratios and the like
        width, height = "1280", "720"
    duration = body.get("duration")
    if not isinstance(duration, int) or isinstance(duration, bool):
        duration = rules.DEFAULT_DURATION.get(model, 5)
    audio = bool(body.get("audio", rule.audio if rule else False))
    return ClipSpec(
        provider=PROVIDER,
        model=model,
        prompt=str(body.get("promptText", "")),
        duration_s=float(duration),
        width=int(width),
        height=int(height),
        audio=audio,
        seed=body.get("seed") if isinstance(body.get("seed"), int) else None,
        first_frame=_first_image(body.get("promptImage")),
    )


def _first_image(value: Any) -> bytes | None:
    """The first frame the clip starts from, when inline: ``promptImage`` as a URI, or the item
    with ``position: "first"`` of ``[{uri, position}]`` ([SDK] runwayml 5.24.0
    ``types/image_to_video_create_params.py``: ``PromptImagePromptImage.position`` "first" |
    "last"; a plain URI is the first frame: UNCERTAIN, as the SDK's README example uses it)."""
    if isinstance(value, list):
        value = next(
            (i.get("uri") for i in value if isinstance(i, dict) and i.get("position") == "first"),
            None,
        )
    return data_uri_bytes(value)


@router.post("/{kind}")
async def create_task(kind: str, request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    if kind not in ("text_to_video", "image_to_video"):
        return error_response(PROVIDER, 404, "Not found")
    try:
        raw, body = await flow.json_body(request)
        image = kind == "image_to_video"
        spec = runway_spec(request, body, image)
        rule = rules.RULES.get((rules_model(request, spec.model, image), image))
    except (flow.BadRequest, rules.Refused) as exc:
        return validation_failed(str(exc))
    created = await flow.create(request, PROVIDER, spec, raw)
    if created.response is not None:
        return created.response
    assert created.job is not None
    credits = rules.credits(rule, spec.duration_s, spec.audio)
    created.job.extra["credits"] = credits
    # runwayml 5.24.0 types/image_to_video_create_response.py (and text_to_video's): a required
    # estimatedCost, "the maximum credits this task may charge"
    body = {"id": _uuid(created.job.id), "estimatedCost": {"credits": credits}}
    return respond(body, created.fault)


_FIELDS = ("model", "ratio", "audio", "seed", "duration", "promptText", "promptImage")


def validation_failed(message: str) -> Response:
    """A body Runway refuses: 400 ``{"error": "Validation of body failed", "issues": [...],
    "docUrl": ...}``, each issue with ``code``, ``path`` and ``message`` (docs.dev.runwayml.com
    openapi.json's 400, and a live capture of 2026-08-26 in a public Runway research note: zod's
    issues). The issue's ``code`` here is zod's ``custom`` for every check: UNCERTAIN."""
    field = re.split(r"[\s\[]", message, maxsplit=1)[0]
    issue = {"code": "custom", "message": message, "path": [field] if field in _FIELDS else []}
    body = {"error": "Validation of body failed", "issues": [issue], "docUrl": DOC_URL}
    return JSONResponse(body, status_code=400)


DOC_URL = "https://docs.dev.runwayml.com/api"


def _charged(job: Job, view: View, credits: int) -> int:
    """[SDK] terminal tasks carry ``cost.credits`` ("fully refunded tasks report 0").
    docs.dev.runwayml.com/usage/moderation: "Moderated generations have the same credit cost as
    successful generations". Refunds of other failures: UNCERTAIN (0 here). A cancelled task is
    never read back (``delete_task``)."""
    if view.phase == "succeeded" or (view.phase == "failed" and job.outcome == "safety_refusal"):
        return credits
    return 0


def _uuid(hex_id: str) -> str:
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:32]}"


def task(request: Request, job: Job, view: View) -> dict[str, Any]:
    credits = int(job.extra.get("credits", 0))  # type: ignore[call-overload]
    body: dict[str, Any] = {
        "id": _uuid(job.id),
        "createdAt": flow.iso(job.created_at),
        "status": _STATUS[view.phase],
    }
    if view.phase in ("queued", "throttled", "running"):
        # [SDK] task_retrieve_response.py: Pending/Throttled/Running carry estimatedCost.credits
        body["estimatedCost"] = {"credits": credits}
    else:
        body["cost"] = {"credits": _charged(job, view, credits)}
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
    """Cancel (pending, throttled, running) or delete (ended) a task; either way it cannot be read
    again: "Aborted and deleted tasks will not be able to be fetched again" (runwayml 5.24.0
    ``resources/tasks.py`` ``delete``), and a live capture (2026-08-26, a Runway upscale research
    note in a public repository) saw ``DELETE`` 204 on a PENDING task, then ``GET`` 404
    ``{"error": "Could not find Task"}``. What a cancel seen RUNNING costs is the registry's
    ``cancel_running`` rule (billed: "does not refund credits", the same docstring)."""
    refused = _refused(request)
    if refused is not None:
        return refused
    emu = flow.emulator(request)
    job = emu.jobs.get(task_id.replace("-", ""))
    if job is None:
        return unknown_job_response(PROVIDER, task_id)
    emu.cancel(job)
    del emu.jobs[job.id]
    return Response(status_code=204)
