"""What ElevenLabs' ``POST /v1/music`` ("compose") refuses, and the emulated bed it answers with.

Sources (read 2026-12-05):
- [SDK] elevenlabs-python ``src/elevenlabs/music/raw_client.py`` @54e58995 (v2.59.0, 2026-07-23),
  ``RawMusicClient.compose``: ``POST v1/music``; query ``output_format``; JSON body ``prompt``
  ("Cannot be used in conjunction with `composition_plan`"), ``composition_plan`` (likewise),
  ``music_length_ms`` ("Used only in conjunction with `prompt`. Must be between 3000ms and
  600000ms. Optional - if not provided, the model will choose a length"), ``model_id``,
  ``seed`` ("Cannot be used in conjunction with prompt"), ``force_instrumental`` ("Can only be used
  with `prompt`"); a 2xx answer's body is the audio; 422 is ``UnprocessableEntityError`` (an
  ``HttpValidationError``: ``{"detail": [{"loc", "msg", "type"}]}``, ``types/
  http_validation_error.py``); other statuses are a plain ``ApiError`` with the JSON body.
- [SDK-FMT] ``src/elevenlabs/music/types/music_compose_request_output_format.py`` @54e58995 (the
  ``output_format`` values; "auto": "mp3_44100_128 for v1 models and mp3_48000_192 for v2
  models", ``raw_client.py``) and ``types/body_compose_music_v_1_music_post_model_id.py``
  (``music_v1``, ``music_v2``).
- [SKILL] elevenlabs/skills ``music/references/api_reference.md`` (``model_id`` "Defaults to
  ``music_v1``"; 401 invalid key, 422 invalid parameters, 429 rate limit; ``bad_prompt`` errors for
  prompts naming artists carry a ``prompt_suggestion``: not emulated, its status and body are
  UNCERTAIN).
UNCERTAIN: which of 400 or 422 answers an unknown ``model_id`` or both ``prompt`` and
``composition_plan`` (422 here, as a body validation error); the 2000-character prompt limit
(third-party gateway docs, not the SDK); the length the model picks without ``music_length_ms``
(10 s here); the auth error bodies are the text-to-speech ones (``_speech_rules``).
"""

from __future__ import annotations

from typing import Any

from emulators.routes._speech_rules import elevenlabs_plan_refusal

FORMATS = (
    "auto", "mp3_48000_128", "mp3_48000_192", "mp3_48000_240", "mp3_48000_320", "mp3_22050_32",
    "mp3_24000_48", "mp3_44100_32", "mp3_44100_64", "mp3_44100_96", "mp3_44100_128",
    "mp3_44100_192", "pcm_8000", "pcm_16000", "pcm_22050", "pcm_24000", "pcm_32000", "pcm_44100",
    "pcm_48000", "ulaw_8000", "alaw_8000", "opus_48000_32", "opus_48000_64", "opus_48000_96",
    "opus_48000_128", "opus_48000_192",
)  # fmt: skip
MODELS = ("music_v1", "music_v2")
AUTO = {"music_v1": "mp3_44100_128", "music_v2": "mp3_48000_192"}
MIN_MS, MAX_MS = 3_000, 600_000
MAX_PROMPT = 2000  # UNCERTAIN
CHOSEN_MS = 10_000  # the length the emulated model picks without music_length_ms (UNCERTAIN)


def refusal(body: dict[str, Any], query: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
    """(status, body) of the first rule the request breaks ([SDK]), else None."""
    fmt = query.get("output_format", "auto")
    if fmt not in FORMATS:
        return 422, _invalid(("query", "output_format"), "Input should be one of the formats")
    if (gated := elevenlabs_plan_refusal(fmt)) is not None:
        return gated
    prompt, plan = body.get("prompt"), body.get("composition_plan")
    if prompt is not None and plan is not None:
        return 422, _invalid(
            ("body",), "prompt cannot be used in conjunction with composition_plan"
        )
    if prompt is None and plan is None:
        return 422, _invalid(("body",), "either prompt or composition_plan is required")
    if prompt is not None and (not isinstance(prompt, str) or not prompt.strip()):
        return 422, _invalid(("body", "prompt"), "Input should be a non-empty string")
    if isinstance(prompt, str) and len(prompt) > MAX_PROMPT:
        return 422, _invalid(
            ("body", "prompt"), f"String should have at most {MAX_PROMPT} characters"
        )
    length = body.get("music_length_ms")
    if length is not None:
        if plan is not None:
            return 422, _invalid(
                ("body", "music_length_ms"), "used only in conjunction with prompt"
            )
        if (
            isinstance(length, bool)
            or not isinstance(length, int)
            or not MIN_MS <= length <= MAX_MS
        ):
            message = f"Input should be between {MIN_MS} and {MAX_MS}"
            return 422, _invalid(("body", "music_length_ms"), message)
    if body.get("model_id", "music_v1") not in MODELS:
        return 422, _invalid(("body", "model_id"), f"Input should be one of {', '.join(MODELS)}")
    if prompt is not None and body.get("seed") is not None:
        return 422, _invalid(("body", "seed"), "seed cannot be used in conjunction with prompt")
    if plan is not None and body.get("force_instrumental") is not None:
        return 422, _invalid(("body", "force_instrumental"), "can only be used with prompt")
    return None


def answer_format(body: dict[str, Any], query: dict[str, str]) -> str:
    """The format the bed is answered in (``auto``: the model's default, [SDK])."""
    fmt = query.get("output_format", "auto")
    return AUTO[str(body.get("model_id", "music_v1"))] if fmt == "auto" else fmt


def seconds_of(body: dict[str, Any]) -> float:
    return float(body.get("music_length_ms") or CHOSEN_MS) / 1000.0


def _invalid(loc: tuple[str, ...], message: str) -> dict[str, Any]:
    return {"detail": [{"type": "value_error", "loc": list(loc), "msg": message}]}
