"""Vertex AI (Gemini Enterprise Agent Platform) emulation of Veo: ``predictLongRunning`` and
``fetchPredictOperation`` under ``/google/{v1|v1beta1}/projects/{p}/locations/{l}/publishers/google``.

Strict where Google is documented: each refusal answers with Google's status and
``{"error": {"code", "message", "status"}}`` body and cites its source. Sources:
- [SDK] google-genai 3.6.1 ``models.py`` (``_GenerateVideosParameters_to_vertex``,
  ``_GenerateVideosConfig_to_vertex``, ``_GenerateVideosResponse_from_vertex``) and
  ``operations.py`` (``fetchPredictOperation``), ``_api_client.py`` (auth headers);
- [DOC-REST] docs.cloud.google.com/gemini-enterprise-agent-platform/reference/rest/Shared.Types/
  VideoGenerationModelParams (stored copy, 2026);
- [DOC-VEO31] docs.cloud.google.com/gemini-enterprise-agent-platform/models/veo/3-1-generate
  (stored copy, 2026) and model-versions (zh-cn, 2026): ids, GA 2025-11-17;
- [DOC-VEO30] .../models/veo/3-0-generate and 2-0-generate: veo-3.0-*/veo-2.0 retired 2026-06-30,
  Veo 3.1 preview endpoints retired 2026-04-02;
- the extend operation (``instances[0].video``): emulators/routes/_vertex_extend.py;
- [DOC-GEMINI] ai.google.dev/gemini-api/docs/video (stored copies 2026): 4/6/8 s, 1080p and 4k
  only at 8 s, Lite without 4k; [3P] vercel.com/ai-gateway/models/veo-3.1-fast-generate-001:
  20 MB input image.
A scenario may declare synthetic model names (test doubles); those pass the model check and skip the
per-model value rules, nothing else.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from emulators.media import ClipSpec, inline_image_bytes
from emulators.routes import _flow as flow
from emulators.routes._vertex_extend import SECONDS, ExtendRefused, check_extend
from emulators.routes.google import veo_operation
from emulators.state import Job, View
from emulators.wire import error_response, refused_key, respond

PROVIDER = "google"
VERSIONS = ("v1", "v1beta1")  # the REST docs use v1; the SDK defaults to v1beta1 in Vertex mode
RESPONSE_TYPE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
UNAUTHENTICATED = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login"
    " cookie or other valid authentication credential."
)
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # [3P] vercel ai-gateway "Maximum input image size: 20 MB"
PERSON_GENERATION = ("dont_allow", "allow_adult", "allow_all")  # [DOC-REST] personGeneration
ASPECTS = ("16:9", "9:16")  # [DOC-REST] aspectRatio "Supported values: 16:9, 9:16"


@dataclass(frozen=True)
class VeoModel:
    resolutions: tuple[str, ...]
    reference_images: int  # asset images allowed ([DOC-VEO31]: "Use reference images: Asset")


# [DOC-VEO31] ids; durations 4/6/8 and "1080p/4k only with 8 s" [DOC-GEMINI]; 4k on Vertex for
# 3.1 standard/fast is UNCERTAIN ([DOC-REST] lists 720p and 1080p only), kept accepted.
MODELS = {
    "veo-3.1-generate-001": VeoModel(("720p", "1080p", "4k"), 3),
    "veo-3.1-fast-generate-001": VeoModel(("720p", "1080p", "4k"), 3),
    # Lite: no 4k, no reference images ([DOC-GEMINI]; [3P] civitai veo3 recipe); id served on
    # Vertex per [3P] vercel ai-gateway and docs.comfy.org router pages — UNCERTAIN on Google's side
    "veo-3.1-lite-generate-001": VeoModel(("720p", "1080p"), 0),
}
DURATIONS = (4, 6, 8)
EIGHT_SECONDS_ONLY = ("1080p", "4k")
RETIRED = {  # answered like any id the project cannot reach: 404 NOT_FOUND
    "veo-3.0-generate-001": "2026-06-30",
    "veo-3.0-fast-generate-001": "2026-06-30",
    "veo-2.0-generate-001": "2026-06-30",
    "veo-3.1-generate-preview": "2026-04-02",
    "veo-3.1-fast-generate-preview": "2026-04-02",
}
router = APIRouter(prefix="/google")
MODEL_PATH = "/{version}/projects/{project}/locations/{location}/publishers/google/models"


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def authorized(request: Request) -> bool:
    """Vertex takes ``Authorization: Bearer <OAuth2 token>`` ([SDK] ``_api_client.py``); an API key
    (``x-goog-api-key``, express mode) is accepted too — whether Veo serves express-mode keys on
    project paths is UNCERTAIN, so the emulator stays lenient there."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    sent = (scheme.lower() == "bearer" and bool(token.strip())) or bool(
        request.headers.get("x-goog-api-key")
    )
    return sent and not refused_key(request)


def model_name(project: str, location: str, model: str) -> str:
    return f"projects/{project}/locations/{location}/publishers/google/models/{model}"


def check_model(emu_models: dict[str, Any], resource: str, model: str) -> VeoModel | None:
    """The model's rules; ``None`` for a scenario test double; ``Refused`` (404) otherwise."""
    if model in MODELS:
        return MODELS[model]
    if model in emu_models:
        return None
    # Vertex's wording for an unknown or unreachable publisher model (UNCERTAIN: exact text)
    raise Refused(404, f"Publisher Model `{resource}` not found.")


def check_body(
    body: dict[str, Any], rules: VeoModel | None, model: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``model``: the Vertex id when it is a real one (None for a scenario's test double)."""
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances or not isinstance(instances[0], dict):
        raise Refused(400, "instances[0] is required.")
    instance, params = instances[0], body.get("parameters") or {}
    if not isinstance(params, dict):
        raise Refused(400, "parameters must be an object.")
    if "video" in instance:  # an extend request: its own rules (emulators/routes/_vertex_extend.py)
        _check_common(params)
        try:
            check_extend(model, instance, params)
        except ExtendRefused as exc:
            raise Refused(400, str(exc)) from exc
        return instance, params
    for key in ("image", "lastFrame"):
        if isinstance(instance.get(key), dict):
            _check_image(instance[key], key)
    for ref in instance.get("referenceImages") or []:
        _check_image((ref or {}).get("image") or {}, "referenceImages.image")
    _check_common(params)
    if rules is not None:
        _check_values(instance, params, rules)
    return instance, params


def _check_common(params: dict[str, Any]) -> None:
    sample_count = params.get("sampleCount", 1)
    if not isinstance(sample_count, int) or not 1 <= sample_count <= 4:
        # [DOC-VEO30]/[DOC-VEO31]: "Maximum videos returned per request: 4"
        raise Refused(400, f"sampleCount must be between 1 and 4, got {sample_count!r}.")
    person = params.get("personGeneration")
    if person is not None and person not in PERSON_GENERATION:
        raise Refused(400, f"Unsupported personGeneration value {person!r}.")
    storage = params.get("storageUri")
    if storage is not None and not str(storage).startswith("gs://"):
        raise Refused(400, "storageUri must start with gs://.")  # [DOC-REST] storageUri


def _check_values(instance: dict[str, Any], params: dict[str, Any], rules: VeoModel) -> None:
    duration = params.get("durationSeconds", 8)
    if _number(duration) not in DURATIONS:
        raise Refused(400, f"durationSeconds must be one of 4, 6 or 8, got {duration!r}.")
    aspect = params.get("aspectRatio", "16:9")
    if aspect not in ASPECTS:
        raise Refused(400, f"Unsupported aspectRatio {aspect!r}; supported: 16:9, 9:16.")
    resolution = params.get("resolution", "720p")
    if resolution not in rules.resolutions:
        raise Refused(400, f"Unsupported resolution {resolution!r} for this model.")
    if resolution in EIGHT_SECONDS_ONLY and _number(duration) != 8:
        raise Refused(400, f"{resolution} is only supported with durationSeconds 8.")
    references = instance.get("referenceImages") or []
    if len(references) > rules.reference_images:
        raise Refused(400, f"At most {rules.reference_images} reference images are supported.")
    if references and _number(duration) != 8:
        raise Refused(400, "Reference images are only supported with durationSeconds 8.")
    # [DOC-VEO31] "9:16, except for reference image to video"; [SDK] types.py
    # GenerateVideosConfig.reference_images: "The image, video, or last_frame field are not
    # supported" (the wording and the 400 of both refusals are UNCERTAIN)
    if references and aspect != "16:9":
        raise Refused(400, "Reference images are only supported with aspectRatio 16:9.")
    if references and (instance.get("image") or instance.get("lastFrame")):
        raise Refused(400, "Reference images are not supported with image or lastFrame.")


def _check_image(image: dict[str, Any], field: str) -> None:
    data = image.get("bytesBase64Encoded")
    if data is None and not image.get("gcsUri"):
        raise Refused(400, f"{field} needs bytesBase64Encoded or gcsUri.")
    if data is not None:
        if len(str(data)) * 3 // 4 > MAX_IMAGE_BYTES:
            raise Refused(400, f"{field} is larger than 20 MB.")
        try:
            base64.b64decode(str(data), validate=True)
        except ValueError as exc:
            raise Refused(400, f"{field}.bytesBase64Encoded is not valid base64.") from exc


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _spec(model: str, instance: dict[str, Any], params: dict[str, Any]) -> ClipSpec:
    try:
        short = flow.resolution_short(params.get("resolution"), 720)
        width, height = flow.dims(str(params.get("aspectRatio", "16:9")), short)
        default = SECONDS if "video" in instance else 8  # an extension adds 7 s
        duration = flow.seconds(params.get("durationSeconds", default), "durationSeconds")
    except flow.BadRequest as exc:
        raise Refused(400, str(exc)) from exc
    return ClipSpec(
        provider=PROVIDER,
        model=model,
        prompt=str(instance.get("prompt", "")),
        duration_s=duration,
        width=width,
        height=height,
        audio=params.get("generateAudio", True) is not False,
        # [SDK] ``instances[0].video``: the clip an extend request continues (inline bytes)
        extend_video=inline_image_bytes(instance.get("video")),
        # [SDK] ``instances[0].image`` is the first frame of an image-to-video request
        # (``_GenerateVideosParameters_to_vertex``); the clip starts from it when inline
        first_frame=inline_image_bytes(instance.get("image")),
    )


@router.post(MODEL_PATH + "/{model_action}")
async def model_action(
    version: str, project: str, location: str, model_action: str, request: Request
) -> Response:
    model, _, action = model_action.partition(":")
    if version not in VERSIONS or action not in ("predictLongRunning", "fetchPredictOperation"):
        return error_response(PROVIDER, 404, f"Method {action!r} not found.")
    if not authorized(request):
        return error_response(PROVIDER, 401, UNAUTHENTICATED)
    resource = model_name(project, location, model)
    emu = flow.emulator(request)
    try:
        raw, body = await flow.json_body(request)
        if action == "fetchPredictOperation":
            return await _fetch(request, resource, body)
        rules = check_model(emu.scenario.models, resource, model)
        instance, params = check_body(body, rules, model if rules is not None else None)
        spec = _spec(model, instance, params)
    except flow.BadRequest as exc:
        return error_response(PROVIDER, 400, str(exc))
    except Refused as exc:
        return error_response(PROVIDER, exc.status, str(exc))
    created = await flow.create(request, PROVIDER, spec, raw)
    if created.response is not None:
        return created.response
    assert created.job is not None
    created.job.extra["storage"] = params.get("storageUri")
    created.job.extra["name"] = name = f"{resource}/operations/{created.job.id}"
    return respond({"name": name}, created.fault)


async def _fetch(request: Request, resource: str, body: dict[str, Any]) -> Response:
    name = str(body.get("operationName", ""))
    prefix, _, op_id = name.rpartition("/operations/")
    if prefix != resource or not op_id:
        raise Refused(400, "operationName must be an operation of this model.")
    polled = await flow.poll(request, PROVIDER, op_id)
    if polled.response is not None:
        return polled.response
    assert polled.job is not None
    assert polled.view is not None
    return respond(operation(request, polled.job, polled.view, name), polled.fault)


def operation(request: Request, job: Job, view: View, name: str) -> dict[str, Any]:
    """The long-running operation: no ``done`` while running ([SDK] ``_from_vertex`` mappers)."""
    return veo_operation(
        name,
        job,
        view,
        lambda inner: {"@type": RESPONSE_TYPE, **inner},
        lambda: {"@type": RESPONSE_TYPE, "videos": [_video(request, job)]},
    )


def _video(request: Request, job: Job) -> dict[str, Any]:
    """Inline bytes unless the request named a ``storageUri`` (then a ``gs://`` object)."""
    storage = job.extra.get("storage")
    if storage:
        return {
            "gcsUri": f"{str(storage).rstrip('/')}/{job.id}/sample_0.mp4",
            "mimeType": "video/mp4",
        }
    data = flow.emulator(request).clip_path(job).read_bytes()
    return {"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": "video/mp4"}


@router.post(MODEL_PATH + "/{model}/operations/{op_ref}")
async def cancel_operation(
    version: str, project: str, location: str, model: str, op_ref: str, request: Request
) -> Response:
    """``google.longrunning`` ``:cancel`` (UNCERTAIN whether Veo honours it; emulated as honoured)."""
    if not authorized(request):
        return error_response(PROVIDER, 401, UNAUTHENTICATED)
    op_id, _, action = op_ref.partition(":")
    job = flow.emulator(request).jobs.get(op_id)
    if action != "cancel" or job is None:
        return error_response(PROVIDER, 404, "Operation not found.")
    flow.emulator(request).cancel(job)
    return respond({})
