"""What OpenAI's ``POST /v1/audio/speech`` and ElevenLabs' ``POST /v1/text-to-speech/{voice_id}``
refuse, and the emulated voice they answer with.

Sources (read 2026-12-04):
- [SDK-OAI] openai 3.60.0 (installed) ``types/audio/speech_create_params.py`` and
  ``speech_model.py``: ``input`` (Required, "The maximum length is 4096 characters"), ``model``
  (Required: tts-1, tts-1-hd, gpt-4o-mini-tts, gpt-4o-mini-tts-2025-12-15; all four "Announced
  shutdown date: 2027-01-06"), ``voice`` (Required; built-in alloy, ash, ballad, coral, echo,
  fable, onyx, nova, sage, shimmer, verse, marin, cedar, or a custom ``{"id": ...}`` object: not
  emulated), ``instructions`` ("Does not work with `tts-1` or `tts-1-hd`"), ``response_format``
  (mp3, opus, aac, flac, wav, pcm), ``speed`` ("from `0.25` to `4.0`"), ``stream_format`` (sse,
  audio; "`sse` is not supported for `tts-1` or `tts-1-hd`"; an SSE answer is not emulated: a
  gpt-4o-mini-tts request for it is answered 400, UNCERTAIN). That ballad, verse, marin and cedar
  serve only the gpt-4o-mini-tts models (tts-1 "supports a smaller set", OpenAI's TTS guide as
  remembered) is UNCERTAIN. The error envelope and codes
  are those of ``_openai_rules`` (``invalid_value`` for enums); the wording for a too-long input and
  for instructions sent to tts-1 is UNCERTAIN (not quoted by a source we read).
- [SDK-EL] elevenlabs-python ``src/elevenlabs/text_to_speech/types/
  text_to_speech_convert_request_output_format.py`` @54e58995 (v2.59.0, 2026-07-23; the ``wav_*``
  values since 23cb5ff9, 2026-01-19): the ``output_format`` query values, "codec_sample_rate_bitrate"
  (``raw_client.py`` ``convert``), and ``text_to_speech/client.py`` (``voice_id`` in the path,
  ``text`` and ``model_id`` in the body, ``xi-api-key`` header). The error bodies
  ``{"detail": {"status", "message"}}`` with ``needs_authorization`` / ``invalid_api_key`` /
  ``voice_not_found`` (404, "A voice with the voice_id foo was not found.": elevenlabs/
  elevenlabs-docs#1317, 2025-07-11) / ``model_not_found`` ("A model with model ID X does not
  exist": C-Nedelcu/talk-to-chatgpt#182) are as integrators map them ([3P] a speech gateway's
  ``_PROVIDER_REASONS`` table, read 2026-12-04); a text over the model's limit is 400
  ``max_character_limit_exceeded`` (the status integrators match, find_string 2026-12-05; the
  message is the 2023 wording of elevenlabs/elevenlabs-python#107: UNCERTAIN today). 422 with a
  FastAPI-shaped ``detail`` list for a bad query or body value, and the per-model character limits
  (hail-hq ``costs/tts.json``: 10,000 for eleven_multilingual_v2, 40,000 for eleven_flash_v2_5;
  3,000 for eleven_v3: elevenlabs/elevenlabs-docs#1458, 2025-08-25, "Update v3 character limits
  from 10,000 to 3,000", ElevenLabs' own docs; a 3P integrator's table said 5,000): UNCERTAIN.
- [EL-PLAN] 44.1 kHz PCM and WAV need the Pro plan: "PCM and WAV formats with 44.1kHz sample rate
  requires you to be subscribed to Pro tier or above" (``output_format`` in [SDK-EL]
  ``raw_client.py`` ``convert``, and elevenlabs.io/docs/api-reference/text-to-speech/convert as
  quoted in maximhq/bifrost#7237, 2026). Below it the answer is 403 ``{"detail": {"type":
  "authorization_error", "code": "subscription_required", "message": "Output format 'pcm_44100'
  is only available on the Pro tier and above.", "status": "output_format_not_allowed"}}`` (live
  Creator-plan captures quoted in public code, find_string 2026-12-07; ENTERPILOT/GoModel#787,
  2026-08-27: ``pcm_24000`` and ``pcm_16000`` 200, ``pcm_44100`` 403). The emulated account is on
  a plan below Pro (Creator), as most are; whether ``pcm_48000``/``wav_48000`` are gated too is
  UNCERTAIN (the docs name 44.1 kHz only): they are served.
- The answer's bytes per ``output_format`` (``elevenlabs_audio``): mp3 as MPEG audio
  (audio/mpeg), ``wav_*`` as a RIFF WAV file, ``opus_*`` as Ogg Opus, ``pcm_*`` raw 16-bit
  little-endian mono, ``ulaw_8000`` / ``alaw_8000`` raw G.711 bytes; the content types other than
  audio/mpeg are UNCERTAIN (not quoted by a source we read).
"""

from __future__ import annotations

import io
import zlib
from datetime import date
from typing import Any

import numpy as np

from foundation.spoken import spoken_words
from media.speechlike import speechlike

OPENAI_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15")
OPENAI_SHUTDOWN = date(
    2027, 1, 6
)  # [SDK-OAI] speech_model.py, every model: "Announced shutdown date"


def openai_shut_down(model: Any, today: date) -> str | None:
    """The 404 ``model_not_found`` message for a speech model past its shutdown, as the chat and
    image emulators answer theirs; None before it or for another id."""
    if model not in OPENAI_MODELS or today < OPENAI_SHUTDOWN:
        return None
    return f"The model `{model}` does not exist or you do not have access to it."


OPENAI_VOICES = ("alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer")
OPENAI_NEWER_VOICES = ("ballad", "verse", "marin", "cedar")  # gpt-4o-mini-tts only: UNCERTAIN
OPENAI_STREAM_FORMATS = ("sse", "audio")
OPENAI_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
OPENAI_MAX_INPUT = 4096
OPENAI_PCM_RATE = (
    24_000  # ``pcm``: raw 24 kHz 16-bit mono ([SDK-OAI] guides as remembered: UNCERTAIN)
)
NO_INSTRUCTIONS = ("tts-1", "tts-1-hd")

ELEVENLABS_FORMATS = (
    "alaw_8000", "mp3_22050_32", "mp3_24000_48", "mp3_44100_128", "mp3_44100_192",
    "mp3_44100_32", "mp3_44100_64", "mp3_44100_96", "opus_48000_128", "opus_48000_192",
    "opus_48000_32", "opus_48000_64", "opus_48000_96", "pcm_16000", "pcm_22050", "pcm_24000",
    "pcm_32000", "pcm_44100", "pcm_48000", "pcm_8000", "ulaw_8000", "wav_16000", "wav_22050",
    "wav_24000", "wav_32000", "wav_44100", "wav_48000", "wav_8000",
)  # fmt: skip  # [SDK-EL] @54e58995, in its order
ELEVENLABS_MODELS = {"eleven_multilingual_v2": 10_000, "eleven_flash_v2_5": 40_000,
                     "eleven_turbo_v2_5": 40_000, "eleven_v3": 3_000}  # fmt: skip
_ELEVENLABS_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "opus": "audio/ogg",
                     "pcm": "audio/pcm", "ulaw": "audio/basic", "alaw": "audio/x-alaw-basic"}  # fmt: skip
WORDS_PER_S = 2.5  # the emulated voice's speaking rate at speed 1.0


def openai_refusal(body: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(param, message, code) of the first rule the body breaks ([SDK-OAI]), else None: 400."""
    for name in ("model", "input", "voice"):
        if not isinstance(body.get(name), str) or not body[name]:
            return name, f"Missing required parameter: '{name}'.", "missing_required_parameter"
    model = body["model"]
    if model not in OPENAI_MODELS:
        return (
            "model",
            f"Invalid value: '{model}'. Supported values are: {_list(OPENAI_MODELS)}.",
            ("invalid_value"),
        )
    if len(body["input"]) > OPENAI_MAX_INPUT:
        message = (
            f"Invalid 'input': string too long. Expected a string with maximum length "
            f"{OPENAI_MAX_INPUT}, but got a string with length {len(body['input'])} instead."
        )
        return "input", message, "string_above_max_length"
    newer = OPENAI_NEWER_VOICES if model.startswith("gpt-4o-mini-tts") else ()
    voices = OPENAI_VOICES + newer
    if body["voice"] not in voices:
        return (
            "voice",
            f"Invalid value: '{body['voice']}'. Supported values are: {_list(voices)}.",
            ("invalid_value"),
        )
    fmt = body.get("response_format", "mp3")
    if fmt not in OPENAI_FORMATS:
        message = f"Invalid value: '{fmt}'. Supported values are: {_list(OPENAI_FORMATS)}."
        return "response_format", message, "invalid_value"
    speed = body.get("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
        return (
            "speed",
            f"Invalid 'speed': {speed!r}. Expected a value from 0.25 to 4.0.",
            ("invalid_value"),
        )
    if body.get("instructions") and model in NO_INSTRUCTIONS:
        return "instructions", f"Instructions are not supported with the model '{model}'.", None
    return _stream_refusal(body.get("stream_format", "audio"), model)


def _stream_refusal(stream: Any, model: str) -> tuple[str, str, str | None] | None:
    """``stream_format`` ([SDK-OAI]): an enum; ``sse`` refused for tts-1 / tts-1-hd (wording
    UNCERTAIN) and, for the models that take it, not emulated (UNCERTAIN stand-in: 400)."""
    if stream not in OPENAI_STREAM_FORMATS:
        message = f"Invalid value: '{stream}'. Supported values are: 'sse' and 'audio'."
        return "stream_format", message, "invalid_value"
    if stream == "sse" and model in NO_INSTRUCTIONS:
        return "stream_format", f"stream_format 'sse' is not supported for model '{model}'.", None
    if stream == "sse":
        return "stream_format", "stream_format 'sse' is not emulated by shotline.", None
    return None


PRO_PLAN_FORMATS = ("pcm_44100", "wav_44100")  # [EL-PLAN]


def elevenlabs_plan_refusal(fmt: str) -> tuple[int, dict[str, Any]] | None:
    """The emulated (Creator) account's refusal of a format sold with the Pro plan ([EL-PLAN]);
    text-to-speech and music answer it alike."""
    if fmt not in PRO_PLAN_FORMATS:
        return None
    message = f"Output format '{fmt}' is only available on the Pro tier and above."
    detail = {"type": "authorization_error", "code": "subscription_required",
              "message": message, "status": "output_format_not_allowed"}  # fmt: skip
    return 403, {"detail": detail}


def elevenlabs_refusal(
    body: dict[str, Any], query: dict[str, str]
) -> tuple[int, dict[str, Any]] | None:
    """(status, body) of the first rule the request breaks ([SDK-EL]), else None."""
    fmt = query.get("output_format", "mp3_44100_128")
    if fmt not in ELEVENLABS_FORMATS:
        return 422, _invalid(("query", "output_format"), fmt, "Input should be one of the formats")
    if (gated := elevenlabs_plan_refusal(fmt)) is not None:
        return gated
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return 422, _invalid(("body", "text"), text, "Field required")
    model = body.get("model_id", "eleven_multilingual_v2")
    if model not in ELEVENLABS_MODELS:
        message = f"A model with model ID {model} does not exist"
        return 400, {"detail": {"status": "model_not_found", "message": message}}
    limit = ELEVENLABS_MODELS[model]
    if len(text) > limit:
        message = (
            f"This request's text has {len(text)} characters and exceeds the character limit"
            f" of {limit} characters for {model}."
        )
        return 400, {"detail": {"status": "max_character_limit_exceeded", "message": message}}
    return None


def elevenlabs_unauthorized(key: str | None) -> dict[str, Any]:
    if not key:
        message = "Neither authorization header nor xi-api-key received, please provide one."
        return {"detail": {"status": "needs_authorization", "message": message}}
    return {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}


def elevenlabs_voice_missing(voice_id: str) -> dict[str, Any]:
    message = f"A voice with the voice_id {voice_id} was not found."
    return {"detail": {"status": "voice_not_found", "message": message}}


# ``GET /v1/voices/{voice_id}`` ([SDK-EL] ``voices/raw_client.py`` ``get`` @54e58995, v2.59.0:
# ``xi-api-key`` header, 2xx answered with a ``Voice`` (``types/voice.py``: ``voice_id`` required,
# ``name``, ``category``, ``labels``, ... optional), only 422 declared; elevenlabs.io/docs/
# api-reference/voices/get, stored copy read 2026-12-05: "Returns metadata about a specific
# voice"). An id the account does not have: 400 ``voice_not_found``, "A voice for the voice_id X
# was not found." (``client.voices.get`` answered so in elevenlabs/elevenlabs-python#454,
# 2025-01-20; the status may since have become 404 as text-to-speech's did in 2025-07,
# UNCERTAIN: the client takes either).
ELEVENLABS_VOICE_NAMES = {
    "21m00Tcm4TlvDq8ikWAM": "Rachel", "pNInz6obpgDQGcFmaJgB": "Adam",
    "EXAVITQu4vr4xnSDxMaL": "Sarah", "TxGEqnHWrfWFTfGW9XjX": "Josh",
    "onwK4e9ZLuTAKqWW03F9": "Daniel", "pqHfZKP75CvOlQylNhV4": "Bill",
}  # fmt: skip  # the emulated account: the premade voices shotline maps descriptions to
# (``adapters.voices.ELEVENLABS_TRAITS``), answered by the lookup and by text-to-speech


def elevenlabs_voice(voice_id: str) -> tuple[int, dict[str, Any]]:
    """(status, body) of ``GET /v1/voices/{voice_id}`` on the emulated account (its premade
    voices only; an account's own voices are not emulated)."""
    name = ELEVENLABS_VOICE_NAMES.get(voice_id)
    if name is None:
        message = f"A voice for the voice_id {voice_id} was not found."
        return 400, {"detail": {"status": "voice_not_found", "message": message}}
    body: dict[str, Any] = {"voice_id": voice_id, "name": name, "category": "premade", "labels": {},
            "description": None, "available_for_tiers": [], "high_quality_base_model_ids": []}  # fmt: skip
    return 200, body


def _invalid(loc: tuple[str, str], value: Any, message: str) -> dict[str, Any]:
    return {"detail": [{"type": "value_error", "loc": list(loc), "msg": message, "input": value}]}


def _list(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def voice_samples(text: str, voice: str, rate: int, speed: float = 1.0) -> np.ndarray:
    """The emulated voice: a speech-like signal (``media.speechlike``) as long as ``text`` takes
    to say at ``WORDS_PER_S`` over ``speed``, its pitch set by ``voice``."""
    words = max(1, spoken_words(text))
    seconds = max(0.5, words / WORDS_PER_S / max(speed, 0.25))
    seed = zlib.crc32(f"{voice}|{text}".encode())
    pitch = 95.0 + (zlib.crc32(voice.encode()) % 6) * 20.0
    return speechlike(seconds, rate, pitch_hz=pitch, seed=seed, peak=0.7)


def pcm16(samples: np.ndarray) -> bytes:
    return bytes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def elevenlabs_audio(samples: np.ndarray, output_format: str) -> tuple[bytes, str]:
    """``samples`` (at the format's rate) as ElevenLabs answers ``output_format`` (an
    ``ELEVENLABS_FORMATS`` or music format), and the answer's content type (sources above)."""
    codec, rate = output_format.split("_")[0], int(output_format.split("_")[1])
    media_type = _ELEVENLABS_TYPES[codec]
    if codec == "pcm":
        return pcm16(samples), media_type
    return encoded(samples, rate, codec), media_type


def encoded(samples: np.ndarray, rate: int, fmt: str) -> bytes:
    """``samples`` in ``fmt`` (wav, flac, mp3, aac, opus, ulaw, alaw) through PyAV."""
    import av

    codec, container_fmt = {
        "wav": ("pcm_s16le", "wav"), "flac": ("flac", "flac"), "mp3": ("mp3", "mp3"),
        "aac": ("aac", "adts"), "opus": ("libopus", "ogg"), "ulaw": ("pcm_mulaw", "mulaw"),
        "alaw": ("pcm_alaw", "alaw"),
    }[fmt]  # fmt: skip
    if fmt == "opus":
        rate = 48_000 if rate not in (8000, 12000, 16000, 24000, 48000) else rate
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_fmt) as container:
        stream: Any = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            (np.clip(samples, -1, 1) * 32767).astype(np.int16)[None, :], format="s16", layout="mono"
        )
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
