"""The providers' free account and catalog endpoints, as ``shotline doctor`` calls them.

None of these creates a job or counts as a submission. Each answers with the same auth rules as its
provider's create route (the same function decides), lists the models the emulator serves (its
strict rule tables plus the scenario's declared test models) less the scenario's
``unlisted_models``, and refuses the scenario's ``invalid_keys``. Sources, per endpoint below.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from emulators.routes import _flow as flow
from emulators.routes import _gemini_text as gemini_text
from emulators.routes import _kling_rules as kling_rules
from emulators.routes import _kling_tasks as kling_tasks
from emulators.routes import _openai_rules as openai_rules
from emulators.routes import _replicate_rules as replicate_rules
from emulators.routes import _speech_rules as speech_rules
from emulators.routes import (
    elevenlabs,
    fal,
    images_gemini,
    luma,
    openai,
    replicate,
    runway,
    runway_rules,
    vertex,
)
from emulators.routes.fal_apps import APPS
from emulators.wire import error_response, respond

router = APIRouter()


def listed(request: Request, served: tuple[str, ...] | list[str]) -> list[str]:
    """``served`` plus the scenario's declared models, less the scenario's unlisted ones."""
    scenario = flow.emulator(request).scenario
    names = dict.fromkeys([*served, *scenario.models])
    return [name for name in names if name not in scenario.unlisted_models]


# ---------------------------------------------------------------- Runway
@router.get("/runway/v1/organization")
async def runway_organization(request: Request) -> Response:
    """[SDK] runwayml 5.24.0 ``resources/organization/organization.py`` ``GET /v1/organization`` ->
    ``types/organization_retrieve_response.py``: ``creditBalance``, ``tier.maxMonthlyCreditSpend``,
    ``tier.models`` (per-model ``maxConcurrentGenerations``/``maxDailyGenerations``, one key per
    model the organization can use), ``usage.models`` (``dailyGenerations``). Tier-1 numbers
    from docs.dev.runwayml.com/usage/tiers (concurrency 1-2, 50-200 daily, $100 monthly)."""
    refused = runway._refused(request)
    if refused is not None:
        return refused
    models = listed(request, (*runway_rules.TEXT_MODELS, *runway_rules.IMAGE_MODELS))
    limits = {"maxConcurrentGenerations": 2, "maxDailyGenerations": 200}
    body = {
        "creditBalance": 10_000,
        "tier": {"maxMonthlyCreditSpend": 10_000, "models": dict.fromkeys(models, limits)},
        "usage": {"models": {}},
    }
    return respond(body)


# ---------------------------------------------------------------- OpenAI
def _openai_model(model_id: str) -> dict[str, Any]:
    # [SDK] openai 3.60.0 ``types/model.py``: id, created, object "model", owned_by
    return {"id": model_id, "object": "model", "created": 1759708800, "owned_by": "system"}


@router.get("/openai/v1/models")
async def openai_models(request: Request) -> Response:
    """[SDK] openai 3.60.0 ``resources/models.py`` ``list`` -> ``GET /models``, a page
    ``{"object": "list", "data": [Model]}``."""
    if not openai._authorized(request):
        return openai._unauthenticated(request)
    data = [_openai_model(m) for m in listed(request, openai_rules.MODELS)]
    return respond({"object": "list", "data": data})


@router.get("/openai/v1/models/{model_id}")
async def openai_model(model_id: str, request: Request) -> Response:
    """[SDK] ``retrieve`` -> ``GET /models/{model}``; an unknown id is 404 ``model_not_found``
    ([3P] the API's wording, quoted in openai/openai-python issues)."""
    if not openai._authorized(request):
        return openai._unauthenticated(request)
    if model_id not in listed(request, openai_rules.MODELS):
        message = f"The model '{model_id}' does not exist"
        return openai_rules.invalid_request(404, message, "model", "model_not_found")
    return respond(_openai_model(model_id))


# ---------------------------------------------------------------- Replicate
@router.get("/replicate/v1/account")
async def replicate_account(request: Request) -> Response:
    """[SDK] replicate 1.0.7 ``account.py`` ``GET /v1/account`` -> ``{type, username, name,
    github_url}``."""
    if not replicate._authorized(request):
        return replicate._unauthenticated(request)
    body = {"type": "user", "username": "emulator", "name": "Emulator", "github_url": None}
    return respond(body)


@router.get("/replicate/v1/models/{owner}/{name}")
async def replicate_model(owner: str, name: str, request: Request) -> Response:
    """[SDK] replicate 1.0.7 ``model.py`` ``Models.get`` -> ``GET /v1/models/{owner}/{name}``; an
    unknown model is 404 with the problem body of ``_replicate_rules.not_found``."""
    if not replicate._authorized(request):
        return replicate._unauthenticated(request)
    model = f"{owner}/{name}"
    if model not in listed(request, tuple(replicate_rules.SCHEMAS)):
        return replicate_rules.not_found().response()
    body = {
        "url": f"https://replicate.com/{model}",
        "owner": owner,
        "name": name,
        "visibility": "public",
        "latest_version": None,  # official models run without a version
    }
    return respond(body)


# ---------------------------------------------------------------- Luma
@router.get("/luma/dream-machine/v1/credits")
async def luma_credits(request: Request) -> Response:
    """[SDK] lumaai 1.21.0 ``resources/credits.py`` ``GET /credits`` -> ``types/credit_get_response.py``
    ``{credit_balance}`` (USD cents)."""
    if not luma._authorized(request):
        return error_response(luma.PROVIDER, 401, "Invalid API key")
    return respond({"credit_balance": 10_000.0})


@router.get("/luma/v1/files")
async def luma_files(request: Request) -> Response:
    """[SDK] lumalabs/luma-agents-python ``resources/files.py`` (4fd928ab) ``list`` -> ``GET
    /files`` -> ``types/file_list.py`` ``{data, has_more, next_cursor}``."""
    if not luma._authorized(request):
        return error_response(luma.PROVIDER, 401, "Invalid API key")
    return respond({"data": [], "has_more": False, "next_cursor": None})


# ---------------------------------------------------------------- fal (Platform APIs)
def _endpoint_ids(request: Request) -> list[str]:
    """``?endpoint_id=a&endpoint_id=b`` or ``?endpoint_id=a,b`` (docs.fal.ai/platform-apis/v1/
    models/pricing, 2026-12-04: both forms, 1-50 ids)."""
    ids = [
        part for value in request.query_params.getlist("endpoint_id") for part in value.split(",")
    ]
    return [i for i in ids if i]


@router.get("/fal/v1/models")
async def fal_models(request: Request) -> Response:
    """docs.fal.ai/platform-apis/v1/models (2026-12-04): ``GET https://api.fal.ai/v1/models``,
    Find mode with ``endpoint_id``: ``{models: [{endpoint_id, metadata: {display_name, category,
    status}}], next_cursor, has_more}``. Authentication is optional; a sent key must be valid
    (UNCERTAIN: whether fal ignores a bad key here). An id fal does not serve is left out
    (UNCERTAIN: not documented)."""
    if request.headers.get("authorization"):
        refused = fal.auth_refusal(request)
        if refused is not None:
            return refused
    served = listed(request, tuple(APPS))
    wanted = _endpoint_ids(request) or served
    models = [
        {
            "endpoint_id": app_id,
            "metadata": {"display_name": app_id, "category": "text-to-video", "status": "active"},
        }
        for app_id in wanted
        if app_id in served
    ]
    return respond({"models": models, "next_cursor": None, "has_more": False})


@router.get("/fal/v1/models/pricing")
async def fal_pricing(request: Request) -> Response:
    """docs.fal.ai/platform-apis/v1/models/pricing (2026-12-04): authentication required,
    ``endpoint_id`` required, ``{prices: [{endpoint_id, unit_price, unit, currency}], next_cursor,
    has_more}``. Prices are the registry's own rates for the app (the emulator has no others)."""
    refused = fal.auth_refusal(request)
    if refused is not None:
        return refused
    wanted = _endpoint_ids(request)
    if not wanted:
        return JSONResponse({"detail": "endpoint_id is required"}, status_code=422)
    served = listed(request, tuple(APPS))
    rates = _registry_rates()
    prices = [
        {"endpoint_id": i, "unit_price": rates.get(i, 0.0), "unit": "second", "currency": "USD"}
        for i in wanted
        if i in served
    ]
    return respond({"prices": prices, "next_cursor": None, "has_more": False})


@cache
def _registry_rates() -> dict[str, float]:
    from registry import load_registry

    return {
        m.provider_model: m.price.points[0].rate
        for m in load_registry()
        if m.provider == "fal" and m.price.points
    }


# ---------------------------------------------------------------- Kling (legacy list)
@router.get("/kling/v1/videos/{kind}")
async def kling_legacy_list(kind: str, request: Request) -> Response:
    """providers.md section 7 ([3P] inference-sh/grid ``03-video-text2video.md``): the legacy task
    list ``GET /v1/videos/{text2video,image2video}?pageNum=&pageSize=`` -> ``data: [task]``. The
    emulator lists none (a listing is not needed by any caller but the doctor)."""
    try:
        kling_tasks.check_auth(request, new_standard=False)
    except kling_rules.KlingRefusal as exc:
        return kling_tasks.refusal(exc)
    if kind not in ("text2video", "image2video"):
        return kling_tasks.refusal(kling_rules.KlingRefusal(1202, "Not found"))
    return respond(kling_tasks.envelope([]))


# ---------------------------------------------------------------- Vertex AI
@router.get("/google/{version}/publishers/google/models/{model}")
async def vertex_publisher_model(version: str, model: str, request: Request) -> Response:
    """[SDK] google-genai 3.6.1 ``models.py get`` in Vertex mode: ``GET {version}/publishers/google/
    models/{model}`` (``_api_client.py _build_request`` adds no project for base-model GETs;
    ``v1beta1`` is the SDK default). A model Google no longer serves is 404 NOT_FOUND, as on
    create. ``launchStage`` per the PublisherModel REST resource (GA, PUBLIC_PREVIEW, ...)."""
    if version not in vertex.VERSIONS:
        return error_response(vertex.PROVIDER, 404, "Not found")
    if not vertex.authorized(request):
        return error_response(vertex.PROVIDER, 401, vertex.UNAUTHENTICATED)
    name = f"publishers/google/models/{model}"
    if model not in listed(request, tuple(vertex.MODELS)):
        return error_response(vertex.PROVIDER, 404, f"Publisher Model `{name}` not found.")
    body = {
        "name": name,
        "versionId": "001",
        "launchStage": "GA",
        "openSourceCategory": "PROPRIETARY",
    }
    return respond(body)


# ---------------------------------------------------------------- ElevenLabs
@router.get("/elevenlabs/v1/models")
async def elevenlabs_models(request: Request) -> Response:
    """[SDK-EL] elevenlabs-python ``models/raw_client.py`` (1a54f231) ``list`` -> ``GET v1/models``
    -> ``List[Model]`` (``types/model.py``: ``model_id``, ``name``, ``can_do_text_to_speech``...).
    Its speech models only: whether the music models are listed is not documented (UNCERTAIN; the
    doctor reports them unchecked)."""
    refused = elevenlabs._unauthorized(request)
    if refused is not None:
        return refused
    models = listed(request, tuple(speech_rules.ELEVENLABS_MODELS))
    return respond([{"model_id": m, "name": m, "can_do_text_to_speech": True} for m in models])


# ---------------------------------------------------------------- Gemini API
@router.get("/google/v1beta/models")
async def gemini_models(request: Request) -> Response:
    """[SDK] google-genai 3.6.1 ``models.py`` ``list`` (not Vertex): ``GET v1beta/models`` with
    ``pageSize``/``pageToken`` -> ``types.py ListModelsResponse`` ``{models: [{name:
    "models/ID"}], nextPageToken}``; the key as on ``generateContent``."""
    refused = images_gemini.auth_refusal(request)
    if refused is not None:
        return refused
    served = (*gemini_text.TEXT_MODELS, *images_gemini.IMAGE_MODELS)
    models = [{"name": f"models/{m}", "displayName": m} for m in listed(request, served)]
    return respond({"models": models})
