"""Kling's legacy standard: ``/v1/videos/{text2video,image2video}`` with ``model_name``, ``mode``,
string durations, ``succeed`` (sources [LEG], [UPD], [ERR], [SPEC] in ``_kling_rules``).

Still served on 2026-09-20 ([SPEC] LIVE read of ``/v1/videos/text2video``) and documented as kept
("no current plans for deprecation", [UPD] 07/15/2026). Unknown keys are accepted here: the legacy
pages list many optional fields (cfg_scale, camera_control, multi_shot, ...) the emulator does not
model (lenient, UNCERTAIN).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from emulators.media import ClipSpec
from emulators.routes import _flow as flow
from emulators.routes import _kling_rules as rules
from emulators.routes import _kling_tasks as tasks
from emulators.state import Job, View
from emulators.wire import respond

KINDS = ("text2video", "image2video")
_STATUS = dict(tasks._STATUS, succeeded="succeed")
_SOUND_MODELS = ("kling-v2-6", "kling-v3")  # [LEG] "sound: Only V2.6+ models"
router = APIRouter(prefix="/v1/videos")


def legacy_spec(body: dict[str, Any], kind: str) -> ClipSpec:
    model = body.get("model_name")
    if model is None:  # the default model_name is kling-v1 ([LEG]), discontinued ([SPEC] §0)
        raise rules.invalid(
            "The model 'kling-v1' has been discontinued and is no longer available."
        )
    if model not in rules.LEGACY_MODELS:  # [ERR] 1203 "such as the model"; UNCERTAIN code
        raise rules.KlingRefusal(1203, f"model_name {model} does not exist")
    mode = body.get("mode", "std")
    if mode not in rules.LEGACY_MODES or (mode == "4k" and model != "kling-v3"):
        raise rules.invalid(f"mode {mode} is not supported by {model}")
    allowed = rules.RANGE_3_15 if model == "kling-v3" else (5, 10)
    duration = str(body.get("duration", "5"))  # documented as a string; ints accepted, UNCERTAIN
    if not duration.isdigit() or int(duration) not in allowed:
        raise rules.invalid(f"duration {duration} is not supported by {model}")
    sound = body.get("sound", "off")
    if sound not in ("on", "off") or (sound == "on" and model not in _SOUND_MODELS):
        raise rules.invalid(f"sound {sound} is not supported by {model}")
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str) or len(prompt) > 2500:
        raise rules.invalid("prompt cannot exceed 2500 characters")
    if kind == "text2video" and not prompt.strip():
        raise rules.invalid("prompt is required")
    aspect = str(body.get("aspect_ratio", "16:9"))
    if aspect not in rules.ASPECTS:
        raise rules.invalid(f"aspect_ratio must be one of {', '.join(rules.ASPECTS)}")
    if kind == "image2video":
        size = rules.image_size(body.get("image"), rules.LEGACY_IMAGE_MAX, allow_data_uri=False)
        aspect = rules.nearest_aspect(size)
    short = {"std": 720, "pro": 1080, "4k": 2160}[mode]
    width, height = flow.dims(aspect, short)
    return ClipSpec(
        provider=tasks.PROVIDER,
        model=str(model),
        prompt=prompt,
        duration_s=float(duration),
        width=width,
        height=height,
        audio=sound == "on",
    )


def created(job: Job) -> dict[str, Any]:
    ref = job.extra.get("external_id")
    return {
        "task_id": job.id,
        "task_status": "submitted",
        "task_info": {"external_task_id": ref} if ref else {},
        "created_at": flow.unix(job.created_at) * 1000,
        "updated_at": flow.unix(job.created_at) * 1000,
    }


def task(request: Request, job: Job, view: View) -> dict[str, Any]:
    data = created(job) | {"task_status": _STATUS[view.phase]}
    if view.phase == "succeeded":
        url = flow.file_url(request, job)
        video = {"id": job.id, "url": url, "duration": str(job.spec.duration_s)}
        data["task_result"] = {"videos": [video]}
        data["final_unit_deduction"] = tasks.units(job)
    elif view.phase in ("failed", "canceled"):
        safety = job.outcome == "safety_refusal"
        data["task_status_msg"] = tasks.SAFETY_MESSAGE if safety else view.error
    return data


@router.post("/{kind}")
async def create_task(kind: str, request: Request) -> Response:
    if kind not in KINDS:
        return tasks.refusal(rules.KlingRefusal(1202, "The requested method is invalid"))
    try:
        tasks.check_auth(request, new_standard=False)
        raw, body = await flow.json_body(request)
        spec = legacy_spec(body, kind)
        ref = rules.external_id(body.get("external_task_id"))
        short_side = min(spec.width, spec.height)  # a portrait 720p clip is 1280 px high
        extra = {"kind": kind, "resolution": {720: "720p", 1080: "1080p"}.get(short_side, "4k")}
        return await tasks.create(request, spec, raw, ref, extra, created)
    except rules.KlingRefusal as exc:
        return tasks.refusal(exc)
    except flow.BadRequest as exc:
        return tasks.refusal(rules.invalid(str(exc)))


@router.get("/{kind}/{task_id}")
async def get_task(kind: str, task_id: str, request: Request) -> Response:
    """By task id or by ``external_task_id`` ([LEG]); not found is 400/1201 "Task not found by
    id/external id" ([SPEC] LIVE 2026-09-20)."""
    try:
        tasks.check_auth(request, new_standard=False)
    except rules.KlingRefusal as exc:
        return tasks.refusal(exc)
    job_id = tasks.refs(request).get(task_id) or task_id
    job = flow.emulator(request).jobs.get(job_id)
    if job is None or job.provider != tasks.PROVIDER or "kind" not in job.extra:
        return tasks.refusal(rules.invalid("Task not found by id/external id"))
    polled = await flow.poll(request, tasks.PROVIDER, job_id)
    if polled.response is not None:
        return polled.response
    assert polled.job is not None
    assert polled.view is not None
    return respond(tasks.envelope(task(request, polled.job, polled.view)), polled.fault)
