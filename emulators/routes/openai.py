"""OpenAI-shaped emulation: ``/v1/videos`` (multipart create, content download), the judge's
``/v1/chat/completions`` and ``/v1/audio/speech`` (``_speech_rules``)."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from emulators.media import ClipSpec
from emulators.routes import _chat_rules as chat_rules
from emulators.routes import _flow as flow
from emulators.routes import _openai_rules as rules
from emulators.routes import _speech_rules as speech_rules
from emulators.routes.judges import openai_chat
from emulators.state import Job, View
from emulators.wire import error_response, refused_key, respond
from foundation import clock

PROVIDER = "openai"
_STATUS = {
    "queued": "queued",
    "throttled": "queued",
    "running": "in_progress",
    "succeeded": "completed",
    "failed": "failed",
    "canceled": "failed",
}
router = APIRouter(prefix="/openai/v1")


def _authorized(request: Request) -> bool:
    """Bearer auth only ([SDK] openai 3.60.0 ``_client.py`` ``auth_headers``)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip()) and not refused_key(request)


def _unauthenticated(request: Request) -> Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return rules.invalid_request(401, rules.UNAUTHENTICATED)
    # a key was sent and refused: 401 ``invalid_api_key`` ([3P] the API's wording as quoted in
    # openai/openai-python issues and integrator logs, the key masked; exact masking UNCERTAIN)
    masked = f"{token.strip()[:3]}*****{token.strip()[-4:]}"
    message = (
        f"Incorrect API key provided: {masked}. You can find your API key at "
        "https://platform.openai.com/account/api-keys."
    )
    return rules.invalid_request(401, message, code="invalid_api_key")


def video_spec(create: rules.VideoCreate) -> ClipSpec:
    return ClipSpec(
        provider=PROVIDER,
        model=create.model,
        prompt=create.prompt,
        duration_s=float(create.seconds),
        width=create.width,
        height=create.height,
        audio=True,
    )


async def _form(request: Request) -> tuple[bytes, dict[str, Any]]:
    """The create fields: multipart as the SDK sends them, or a JSON body (the API takes both:
    [3P] integrators post JSON, and "got an integer" is the JSON-only type error)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        return await flow.json_body(request)
    form = await request.form()
    fields: dict[str, Any] = {}
    for name, value in form.multi_items():
        fields[name] = value if isinstance(value, str) else await value.read()
    text = {k: v for k, v in fields.items() if isinstance(v, str)}
    raw = "&".join(f"{k}={v}" for k, v in sorted(text.items())).encode()
    return raw, fields


@router.post("/videos")
async def create_video(request: Request) -> Response:
    if not _authorized(request):
        return _unauthenticated(request)
    try:
        raw, form = await _form(request)
        spec = video_spec(
            rules.parse_create(form, frozenset(flow.emulator(request).scenario.models))
        )
    except flow.BadRequest as exc:
        return rules.invalid_request(400, str(exc))
    except rules.Refused as exc:
        return exc.response()
    created = await flow.create(request, PROVIDER, spec, raw, prefix="video_")
    if created.response is not None:
        return created.response
    assert created.job is not None
    answer = respond(video(created.job, View("queued", 0.0)), created.fault)
    answer.headers["openai-poll-after-ms"] = "200"
    return answer


def video(job: Job, view: View) -> dict[str, Any]:
    finished = view.phase in ("succeeded", "failed", "canceled")
    body: dict[str, Any] = {
        "id": job.id,
        "object": "video",
        "model": job.model,
        "status": _STATUS[view.phase],
        "progress": 100 if finished else int(view.progress * 100),
        "created_at": flow.unix(job.created_at),
        "completed_at": flow.unix(job.created_at + job.latency_s) if finished else None,
        "expires_at": flow.unix(job.created_at) + 3600 if view.phase == "succeeded" else None,
        "prompt": job.spec.prompt,
        "seconds": str(round(job.spec.duration_s)),
        "size": f"{job.spec.width}x{job.spec.height}",
        "remixed_from_video_id": None,
        "error": None,
    }
    if view.phase in ("failed", "canceled"):
        safety = job.outcome == "safety_refusal"
        code = "moderation_blocked" if safety else "video_generation_failed"
        body["error"] = {"code": code, "message": view.error or "canceled"}
    return body


@router.get("/videos/{video_id}")
async def get_video(video_id: str, request: Request) -> Response:
    if not _authorized(request):
        return _unauthenticated(request)
    polled = await flow.poll(request, PROVIDER, video_id)
    if polled.response is not None:
        return polled.response
    assert polled.job is not None
    assert polled.view is not None
    answer = respond(video(polled.job, polled.view), polled.fault)
    answer.headers["openai-poll-after-ms"] = "200"
    return answer


@router.get("/videos/{video_id}/content")
async def get_content(video_id: str, request: Request) -> Response:
    if not _authorized(request):
        return _unauthenticated(request)
    emu = flow.emulator(request)
    job = emu.jobs.get(video_id)
    if job is None or emu.view(job).phase != "succeeded":
        return error_response(PROVIDER, 404, "Video content is not available")
    if emu.expire_download(job):
        return error_response(PROVIDER, 404, "Video content has expired")
    return FileResponse(emu.clip_path(job), media_type="video/mp4")


@router.delete("/videos/{video_id}")
async def delete_video(video_id: str, request: Request) -> Response:
    if not _authorized(request):
        return _unauthenticated(request)
    """openai 3.60.0 ``resources/videos.py`` ``delete``: "Permanently delete a completed or failed
    video and its stored assets"; one still queued or in progress is refused (400: the status and
    wording are UNCERTAIN)."""
    emu = flow.emulator(request)
    job = emu.jobs.get(video_id)
    if job is None:
        return error_response(PROVIDER, 404, "Video not found")
    if emu.view(job).phase not in ("succeeded", "failed"):
        return error_response(PROVIDER, 400, "Only a completed or failed video can be deleted")
    del emu.jobs[video_id]
    return respond({"id": video_id, "deleted": True, "object": "video.deleted"})


@router.post("/chat/completions")
async def chat_completions(request: Request) -> Response:
    if not _authorized(request):
        return _unauthenticated(request)
    return await chat_answer(request)


async def chat_answer(request: Request) -> Response:
    """The chat/completions answer after auth (also Gemini's OpenAI-compatible layer's)."""
    try:
        raw, body = await flow.json_body(request)
    except flow.BadRequest as exc:
        return flow.bad_request(PROVIDER, exc)
    if (gone := chat_rules.shut_down(body.get("model"), clock.today())) is not None:
        return rules.invalid_request(404, gone, None, "model_not_found")
    refused = chat_rules.refusal(body)
    if refused is not None:
        code = refused[2] if len(refused) > 2 else None
        return rules.invalid_request(400, refused[1], refused[0], code)
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema" and fmt["json_schema"].get("name") == "storyboard":
        return _storyboard(request, raw, body)
    return await openai_chat(request, raw, body)


def _storyboard(request: Request, raw: bytes, body: dict[str, Any]) -> Response:
    """The emulated LLM's storyboard draft (``_chat_rules.storyboard_answer``); usage counts
    4 bytes a token, as the judge route does."""
    profile = flow.emulator(request).profile(PROVIDER, str(body["model"]))
    board = chat_rules.storyboard_answer(body, profile.draft_invalid_rounds)
    text = json.dumps(board)
    message = {"role": "assistant", "content": text, "refusal": None}
    return respond(
        {
            "id": f"chatcmpl-{hashlib.sha256(raw).hexdigest()[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": len(raw) // 4,
                "completion_tokens": len(text) // 4,
                "total_tokens": len(raw) // 4 + len(text) // 4,
            },
        }
    )


_AUDIO_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac",
                "wav": "audio/wav", "pcm": "audio/pcm"}  # fmt: skip


@router.post("/audio/speech")
async def speech(request: Request) -> Response:
    """The emulated voice (``_speech_rules.voice_samples``) in the asked ``response_format``,
    after the rules the API enforces; 24 kHz as OpenAI's speech is."""
    if not _authorized(request):
        return _unauthenticated(request)
    try:
        _, body = await flow.json_body(request)
    except flow.BadRequest as exc:
        return flow.bad_request(PROVIDER, exc)
    if (gone := speech_rules.openai_shut_down(body.get("model"), clock.today())) is not None:
        return rules.invalid_request(404, gone, None, "model_not_found")
    refused = speech_rules.openai_refusal(body)
    if refused is not None:
        param, message, code = refused
        return rules.invalid_request(400, message, param, code)
    fmt = str(body.get("response_format", "mp3"))
    rate = speech_rules.OPENAI_PCM_RATE
    samples = speech_rules.voice_samples(
        body["input"], body["voice"], rate, float(body.get("speed", 1.0))
    )
    if fmt == "pcm":
        return Response(speech_rules.pcm16(samples), media_type=_AUDIO_TYPES[fmt])
    return Response(speech_rules.encoded(samples, rate, fmt), media_type=_AUDIO_TYPES[fmt])
