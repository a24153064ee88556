"""Kling direct API emulation, both design standards the vendor serves (sources: ``_kling_rules``).

New standard (all video since 07/15/2026): ``POST /{product}/{model}`` with ``prompt``/``contents``,
``settings`` and ``options``; API key only; one ``GET /tasks`` (``task_ids`` or
``external_task_ids``) and a cursor ``POST /tasks``; statuses ``submitted, processing, succeeded,
failed``. Legacy standard (still served, "no current plans for deprecation", [UPD] 07/15/2026):
``POST /v1/videos/{text2video,image2video}`` with ``model_name``/``mode``, API key or AK/SK JWT,
``succeed``. ``external_task_id`` is unique per account across both ([SPEC] LIVE 2026-09-22: a
repeat is refused with 400/1201 "already exists", at no cost); an ``Idempotency-Key`` header is not
part of Kling's API. Kling has no cancel endpoint.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from emulators.media import ClipSpec
from emulators.routes import _flow as flow
from emulators.routes import _kling_legacy as legacy
from emulators.routes import _kling_rules as rules
from emulators.routes import _kling_tasks as tasks
from emulators.routes._kling_tasks import refusal
from emulators.wire import respond

PROVIDER = tasks.PROVIDER
PRODUCTS = ("text-to-video", "image-to-video")
SHORT_SIDE = {"720p": 720, "1080p": 1080, "4k": 2160}
router = APIRouter(prefix="/kling")


def path_model(request: Request, model: str) -> rules.PathModel:
    """The rules of a path model. A model a scenario declares (a model the vendor has not documented
    yet, or a test's fault profile) gets kling-3.0's rules. Unknown: 404/1203, [ERR] "The requested
    resource does not exist, such as the model" (UNCERTAIN: the live answer was not observed)."""
    if model in rules.PATH_MODELS:
        return rules.PATH_MODELS[model]
    if model in flow.emulator(request).scenario.models:
        return rules.PATH_MODELS["kling-3.0"]
    raise rules.KlingRefusal(1203, f"model {model} does not exist")


def new_spec(model: str, rule: rules.PathModel, body: dict[str, Any], product: str) -> ClipSpec:
    unknown = sorted(set(body) - rules.TOP_KEYS[product])
    if unknown:  # model_name, mode, duration, ... belong to the legacy standard ([SPEC] §2.2)
        raise rules.invalid(f"{unknown[0]} is not a parameter of this API")
    settings = rules.check_settings(rule, body.get("settings"), product)
    if product == "text-to-video":
        prompt, size = body.get("prompt"), None
        if not isinstance(prompt, str) or not prompt.strip():
            raise rules.invalid("prompt is required")
        if len(prompt) > rule.prompt_max:
            raise rules.invalid(f"prompt cannot exceed {rule.prompt_max} characters")
        aspect = str(settings["aspect_ratio"])
    else:
        prompt, size = _contents(rule, body.get("contents"))
        aspect = rules.nearest_aspect(size)
    width, height = flow.dims(aspect, SHORT_SIDE[str(settings["resolution"])])
    return ClipSpec(
        provider=PROVIDER,
        model=model,
        prompt=prompt,
        duration_s=float(settings["duration"]),  # type: ignore[arg-type]
        width=width,
        height=height,
        audio=rule.audio_always or settings["audio"] == "native",
    )


def _contents(rule: rules.PathModel, contents: object) -> tuple[str, tuple[int, int] | None]:
    """[T3]/[TT] ``contents[]``: typed items; a first frame is required, a last frame only with one;
    at most 3 elements; the prompt item's text is capped."""
    if not isinstance(contents, list) or not contents:
        raise rules.invalid("contents is required")
    kinds = [item.get("type") if isinstance(item, dict) else None for item in contents]
    for kind in kinds:
        if kind not in rule.i2v_contents:
            raise rules.invalid(f"contents type {kind!r} is not supported")
    if kinds.count("first_frame") != 1 or kinds.count("last_frame") > 1:
        raise rules.invalid("contents needs exactly one first_frame")
    if kinds.count("element") > 3 or kinds.count("prompt") > 1:
        raise rules.invalid("too many contents of one type")
    prompt, size = "", None
    for item in contents:
        if item["type"] == "prompt":
            prompt = item.get("text")
            if not isinstance(prompt, str) or len(prompt) > rule.i2v_prompt_max:
                raise rules.invalid(f"prompt text cannot exceed {rule.i2v_prompt_max} characters")
        elif item["type"] in ("first_frame", "last_frame"):
            found = rules.image_size(item.get("url"), rules.NEW_IMAGE_MAX, allow_data_uri=True)
            size = found if item["type"] == "first_frame" else size
    return prompt, size


@router.post("/{product}/{model}")
async def create_task(product: str, model: str, request: Request) -> Response:
    if product not in PRODUCTS:
        return refusal(rules.KlingRefusal(1202, "The requested method is invalid"))
    try:
        tasks.check_auth(request, new_standard=True)
        rule = path_model(request, model)
        raw, body = await flow.json_body(request)
        spec = new_spec(model, rule, body, product)
        ref = rules.check_options(body.get("options"))
    except rules.KlingRefusal as exc:
        return refusal(exc)
    except flow.BadRequest as exc:
        return refusal(rules.invalid(str(exc)))
    try:
        extra = {"product": product, "resolution": _resolution(spec)}
        return await tasks.create(request, spec, raw, ref, extra, tasks.created_payload)
    except rules.KlingRefusal as exc:
        return refusal(exc)


def _resolution(spec: ClipSpec) -> str:
    short = min(spec.width, spec.height)
    return "4k" if short >= 2160 else "1080p" if short >= 1080 else "720p"


@router.get("/tasks")
async def query_tasks(request: Request) -> Response:
    """[T3] "Query Task (By task ID)": ``task_ids`` or ``external_task_ids`` (not both), comma
    separated; unknown ids are simply absent ([SPEC] LIVE: ``200 data: []``)."""
    try:
        tasks.check_auth(request, new_standard=True)
        ids, by_ref = _query_ids(request)
    except rules.KlingRefusal as exc:
        return refusal(exc)
    found, fault = [], None
    for task_id in ids:
        job_id = tasks.refs(request).get(task_id) if by_ref else task_id
        if not job_id or job_id not in flow.emulator(request).jobs:
            continue
        polled = await flow.poll(request, PROVIDER, job_id)
        if polled.response is not None:
            return polled.response
        assert polled.job is not None
        assert polled.view is not None
        found.append(tasks.record(request, polled.job, polled.view))
        fault = fault or polled.fault
    return respond(tasks.envelope(found), fault)


def _query_ids(request: Request) -> tuple[list[str], bool]:
    by_id = request.query_params.get("task_ids")
    by_ref = request.query_params.get("external_task_ids")
    if by_id and by_ref:
        raise rules.invalid("task_ids and external_task_ids cannot be used together")
    text = by_ref or by_id or ""
    return [part for part in text.split(",") if part], bool(by_ref)


@router.post("/tasks")
async def list_tasks(request: Request) -> Response:
    """[TT] "Query Task (By Cursor)": tasks created in ``[start_time, end_time]`` (ms, default the
    last 30 days), newest first, ``limit`` <= 500, ``filters`` on ``status``; ``next_cursor``."""
    try:
        tasks.check_auth(request, new_standard=True)
        _, body = await flow.json_body(request)
        window = tasks.Window(body)
    except rules.KlingRefusal as exc:
        return refusal(exc)
    except flow.BadRequest as exc:
        return refusal(rules.invalid(str(exc)))
    emu = flow.emulator(request)
    jobs = [job for job in emu.jobs.values() if job.provider == PROVIDER]
    jobs.sort(key=lambda job: job.created_at, reverse=True)
    rows = [tasks.record(request, job, emu.view(job)) for job in jobs]
    rows = [row for row in rows if window.start <= row["create_time"] <= window.end]
    rows = [row for row in rows if not window.statuses or row["status"] in window.statuses]
    page = rows[window.offset : window.offset + window.limit]
    more = window.offset + window.limit < len(rows)
    data = {
        "result": page,
        "count": len(page),
        "has_more": more,
        "next_cursor": str(window.offset + window.limit) if more else "",
    }
    return respond(tasks.envelope(data))


router.include_router(legacy.router)
