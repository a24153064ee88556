"""Gemini API emulation: ``generateContent`` for text models (the judge, and storyboard drafts
with the refusals of ``_gemini_text``), and Veo ``predictLongRunning`` as it is
now: refused for every real model id (404 NOT_FOUND). The Veo preview ids were shut down on the Gemini
API on 2026-10-22 ([3P] docs.apiyi.com/en/live/2026-10/veo-3-1-preview-retired and
live/2026-11/veo-3-1-official-offline, quoting ai.google.dev/gemini-api/docs/deprecations), Veo 2.0
and 3.0 on 2026-06-30 ([DOC] ai.google.dev/gemini-api/docs/changelog, 2026-06-15 entry), and
google-genai 3.6.1 ``models.py _generate_videos`` creates videos only in Vertex mode. Veo now lives
on Vertex AI (``emulators.routes.vertex``). Synthetic model names a scenario declares keep the old
Developer-API behaviour (the refusals below are from google-genai 2.19.0 ``_to_mldev`` mappers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from emulators import webhooks
from emulators.media import ClipSpec
from emulators.routes import _flow as flow
from emulators.routes import _gemini_text as text_rules
from emulators.routes.images_gemini import auth_refusal
from emulators.routes.judges import admit_call, gemini_generate
from emulators.state import Emulator, Job, View
from emulators.wire import error_response, respond

PROVIDER = "google"
VERTEX_ONLY = (
    "seed",
    "fps",
    "generateAudio",
    "outputGcsUri",
    "pubsubTopic",
    "mask",
    "compressionQuality",
    "labels",
    "resizeMode",
)
RAI_REASON = (
    "Veo could not generate 1 videos because the input prompt or output violated our policies."
    " You will not be charged for blocked videos. Support codes: 58061214"
)
TYPE_PREFIX = "type.googleapis.com/google.ai.generativelanguage.v1beta"
router = APIRouter(prefix="/google/v1beta")


def _authorized(request: Request) -> bool:
    """The Gemini API key, as header or ``?key=`` ([SDK] google-genai 3.6.1 ``_api_client.py``);
    a bearer token alone is no API key: 403 as for an anonymous caller."""
    return bool(request.headers.get("x-goog-api-key") or request.query_params.get("key"))


def not_found(model: str) -> str:
    """The Gemini API's answer for a model it does not serve (404 NOT_FOUND)."""
    return (
        f"models/{model} is not found for API version v1beta, or is not supported for"
        " predictLongRunning. Call ListModels to see the list of available models and their"
        " supported methods."
    )


def veo_spec(model: str, body: dict[str, Any]) -> ClipSpec:
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances or not isinstance(instances[0], dict):
        raise flow.BadRequest("instances[0] is required")
    instance = instances[0]
    params = body.get("parameters") or {}
    refused = [name for name in VERTEX_ONLY if name in params]
    if refused:
        raise flow.BadRequest(f"{refused[0]} parameter is not supported in Gemini API.")
    if "gcsUri" in (instance.get("image") or {}):
        raise flow.BadRequest("gcsUri is not supported in Gemini API.")
    short = flow.resolution_short(params.get("resolution"), 720)
    width, height = flow.dims(str(params.get("aspectRatio", "16:9")), short)
    return ClipSpec(
        provider=PROVIDER,
        model=model,
        prompt=str(instance.get("prompt", "")),
        duration_s=flow.seconds(params.get("durationSeconds", 8), "durationSeconds"),
        width=width,
        height=height,
        audio=not model.startswith("veo-2"),
    )


@router.post("/openai/chat/completions")
async def openai_compatible_chat(request: Request) -> Response:
    """Gemini's OpenAI-compatible layer: base ``/v1beta/openai/``, the API key as a bearer
    token (providers.md §8: [3P] many repos; [SDK] openai-python sends ``Authorization: Bearer``);
    the request rules and answers are the chat route's (``emulators.routes.openai``)."""
    from emulators.routes.openai import chat_answer

    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return JSONResponse(
            {
                "error": {
                    "code": 401,
                    "message": "Missing bearer API key",
                    "status": "UNAUTHENTICATED",
                }
            },
            status_code=401,
        )
    return await chat_answer(request)


@router.post("/models/{model_action}")
async def model_action(model_action: str, request: Request) -> Response:
    if not _authorized(request):
        return error_response(PROVIDER, 403, "Method doesn't allow unregistered callers.")
    model, _, action = model_action.partition(":")
    try:
        raw, body = await flow.json_body(request)
        if action == "generateContent":
            return await generate_content(request, model, raw, body)
        if action != "predictLongRunning":
            return error_response(PROVIDER, 404, f"unknown method {action!r}")
        if model not in flow.emulator(request).scenario.models:
            return error_response(PROVIDER, 404, not_found(model))
        spec = veo_spec(model, body)
    except flow.BadRequest as exc:
        return flow.bad_request(PROVIDER, exc)
    created = await flow.create(request, PROVIDER, spec, raw)
    if created.response is not None:
        return created.response
    job = created.job
    assert job is not None
    emu = flow.emulator(request)
    for uri in (body.get("webhookConfig") or {}).get("uris") or []:
        webhooks.schedule(emu, job, str(uri), "standard", lambda j: _event(request, j, emu))
    return respond({"name": _op_name(job)}, created.fault)


async def generate_content(
    request: Request, model: str, raw: bytes, body: dict[str, Any]
) -> Response:
    """A text model's generateContent (``_gemini_text``): refusals first, then the storyboard
    draft when the response schema is a storyboard's, else the judge's answer."""
    bad_key = auth_refusal(request)
    if bad_key is not None:
        return bad_key
    if model not in text_rules.TEXT_MODELS and model not in flow.emulator(request).scenario.models:
        return error_response(PROVIDER, 404, text_rules.not_found(model))
    refused = text_rules.refusal(body)
    if refused is not None:
        return error_response(PROVIDER, 400, refused)
    if not text_rules.wants_storyboard(body):
        return await gemini_generate(request, model, raw, body)
    gate, blocked = await admit_call(request, PROVIDER, model, raw)
    if isinstance(gate, Response):
        return gate
    prompt_tokens = len(raw) // 4
    if blocked:
        usage = {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens}
        return respond({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage}, gate)
    rounds = flow.emulator(request).profile(PROVIDER, model).draft_invalid_rounds
    text = text_rules.storyboard_text(body, rounds)
    limit = (body.get("generationConfig") or {}).get("maxOutputTokens")
    reason, tokens = "STOP", len(text) // 4
    if isinstance(limit, int) and tokens > limit:  # cut where the budget ends
        reason, tokens, text = "MAX_TOKENS", limit, text[: limit * 4]
    candidate = {
        "content": {"role": "model", "parts": [{"text": text}]},
        "finishReason": reason,
        "index": 0,
    }
    usage = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": tokens,
        "totalTokenCount": prompt_tokens + tokens,
    }
    answer = {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model}
    return respond(answer, gate)


def _event(request: Request, job: Job, emu: Emulator) -> dict[str, Any]:
    """Gemini's webhook payload shape is not published in detail (UNCERTAIN): type + operation."""
    return {"type": "video.generated", "data": operation(request, job, emu.view(job))}


def _op_name(job: Job) -> str:
    return f"models/{job.model}/operations/{job.id}"


def operation(request: Request, job: Job, view: View) -> dict[str, Any]:
    uri = f"{flow.root(request)}/google/v1beta/files/{job.id}:download?alt=media"
    return veo_operation(
        _op_name(job),
        job,
        view,
        _video_response,
        lambda: _video_response({"generatedSamples": [{"video": {"uri": uri}}]}),
    )


def veo_operation(
    name: str,
    job: Job,
    view: View,
    response_of: Callable[[dict[str, Any]], dict[str, Any]],
    success: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """A Veo job as a ``google.longrunning`` operation, on the Gemini and the Vertex routes alike:
    only ``name`` while it runs (no ``done``); then a CANCELLED or INTERNAL ``error``, an
    RAI-filtered ``response`` (``response_of`` wraps the filter fields the route's way), or the
    route's ``success()`` response."""
    op: dict[str, Any] = {"name": name}
    if view.phase not in ("succeeded", "failed", "canceled"):
        return op
    op["done"] = True
    if view.phase == "canceled":
        op["error"] = {"code": 1, "message": "Operation cancelled.", "status": "CANCELLED"}
    elif job.outcome == "safety_refusal":
        reason = job.message or RAI_REASON
        op["response"] = response_of(
            {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [reason]}
        )
    elif view.phase == "failed":
        op["error"] = {"code": 13, "message": view.error or "Internal error.", "status": "INTERNAL"}
    else:
        op["response"] = success()
    return op


def _video_response(inner: dict[str, Any]) -> dict[str, Any]:
    return {
        "@type": f"{TYPE_PREFIX}.PredictLongRunningResponse",
        "generateVideoResponse": inner,
    }


@router.get("/models/{model}/operations/{op_id}")
async def get_operation(model: str, op_id: str, request: Request) -> Response:
    if not _authorized(request):
        return error_response(PROVIDER, 403, "Method doesn't allow unregistered callers.")
    polled = await flow.poll(request, PROVIDER, op_id)
    if polled.response is not None:
        return polled.response
    assert polled.job is not None
    assert polled.view is not None
    return respond(operation(request, polled.job, polled.view), polled.fault)


@router.post("/models/{model}/operations/{op_ref}")
async def cancel_operation(model: str, op_ref: str, request: Request) -> Response:
    op_id, _, action = op_ref.partition(":")
    job = flow.emulator(request).jobs.get(op_id)
    if action != "cancel" or job is None:
        return error_response(PROVIDER, 404, "operation not found")
    flow.emulator(request).cancel(job)
    return respond({})


@router.get("/files/{file_ref}")
async def download(file_ref: str, request: Request) -> Response:
    """Veo outputs need the API key; the real service then redirects to storage."""
    if not _authorized(request):
        return error_response(PROVIDER, 403, "Method doesn't allow unregistered callers.")
    job = flow.emulator(request).jobs.get(file_ref.partition(":")[0])
    if job is None or job.render is None:
        return error_response(PROVIDER, 404, "File not found.")
    return RedirectResponse(flow.file_url(request, job), status_code=302)
