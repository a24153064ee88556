"""ElevenLabs-shaped emulation: ``POST /v1/text-to-speech/{voice_id}`` (rules and sources:
``_speech_rules``) and ``POST /v1/music`` (``_music_rules``: the bed is the local bed's chords,
as long as asked, in the asked format). The voice id must be one of the premade voices shotline maps descriptions to
(an account's own voices are not emulated); the answer is the emulated voice in the asked
``output_format``, in that format's container (``_speech_rules.elevenlabs_audio``).
``GET /v1/voices/{voice_id}`` answers a premade voice's metadata and an unknown id the provider's
``voice_not_found`` (``_speech_rules.elevenlabs_voice``). A scenario's HTTP faults apply to
``/v1/text-to-speech`` and ``/v1/music`` by the request's ``model_id`` (``eleven_multilingual_v2``,
``music_v1`` when absent), after the request's own refusals."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from adapters.music import bed_samples
from emulators.routes import _flow as flow
from emulators.routes import _music_rules as music_rules
from emulators.routes import _speech_rules as rules
from emulators.wire import fault_response

PROVIDER = "elevenlabs"
router = APIRouter(prefix="/elevenlabs")


def _unauthorized(request: Request) -> Response | None:
    key = request.headers.get("xi-api-key")
    invalid = request.app.state.emulator.scenario.invalid_keys
    if not key or key in (invalid or ()):
        return JSONResponse(rules.elevenlabs_unauthorized(key), status_code=401)
    return None


@router.post("/v1/text-to-speech/{voice_id}")
async def text_to_speech(voice_id: str, request: Request) -> Response:
    if (refused_key := _unauthorized(request)) is not None:
        return refused_key
    try:
        raw, body = await flow.json_body(request)
    except flow.BadRequest as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    refused = rules.elevenlabs_refusal(body, dict(request.query_params))
    if refused is not None:
        return JSONResponse(refused[1], status_code=refused[0])
    if voice_id not in rules.ELEVENLABS_VOICE_NAMES:
        return JSONResponse(rules.elevenlabs_voice_missing(voice_id), status_code=404)
    faulted = await _scenario_fault(request, raw, body, "eleven_multilingual_v2", "text")
    if faulted is not None:
        return faulted
    fmt = request.query_params.get("output_format", "mp3_44100_128")
    rate = int(fmt.split("_")[1])
    samples = rules.voice_samples(str(body["text"]), voice_id, rate)
    audio, media_type = rules.elevenlabs_audio(samples, fmt)
    return Response(audio, media_type=media_type)


@router.post("/v1/music")
async def compose(request: Request) -> Response:
    if (refused_key := _unauthorized(request)) is not None:
        return refused_key
    try:
        raw, body = await flow.json_body(request)
    except flow.BadRequest as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    query = dict(request.query_params)
    refused = music_rules.refusal(body, query)
    if refused is not None:
        return JSONResponse(refused[1], status_code=refused[0])
    faulted = await _scenario_fault(request, raw, body, "music_v1", "prompt")
    if faulted is not None:
        return faulted
    fmt = music_rules.answer_format(body, query)
    rate = int(fmt.split("_")[1])
    prompt = str(body.get("prompt") or "composition plan")
    samples = bed_samples(prompt, music_rules.seconds_of(body), rate)
    audio, media_type = rules.elevenlabs_audio(samples, fmt)
    return Response(audio, media_type=media_type)


@router.get("/v1/voices/{voice_id}")
async def get_voice(voice_id: str, request: Request) -> Response:
    """The free voice lookup: a premade voice's metadata, else ``voice_not_found``."""
    if (refused_key := _unauthorized(request)) is not None:
        return refused_key
    status, body = rules.elevenlabs_voice(voice_id)
    return JSONResponse(body, status_code=status)


async def _scenario_fault(
    request: Request, raw: bytes, body: dict[str, Any], default_model: str, prompt_field: str
) -> Response | None:
    """The scenario's HTTP fault for this call, by the model's id (``eleven_flash_v2_5``,
    ``music_v1``: ``{kind: server_error, rate: 1.0}`` fails every call; ``match`` is looked for in
    the body's ``prompt_field``), answered in ElevenLabs' error shape."""
    emu = flow.emulator(request)
    model = str(body.get("model_id", default_model))
    _, fault = emu.admit(PROVIDER, model, raw, str(body.get(prompt_field) or ""))
    return None if fault is None else await fault_response(PROVIDER, fault)
