"""ElevenLabs' free voice lookup, ``GET {base}/v1/voices/{voice_id}``: whether the account behind
an API key has a voice, asked before any line is paid for.

Wire contract (elevenlabs-python v2.59.0 @54e58995, ``src/elevenlabs/voices/raw_client.py``
``get``: the ``xi-api-key`` header, a 2xx answer is the ``Voice``; elevenlabs.io/docs/
api-reference/voices/get, stored copy read 2026-12-05: "Returns metadata about a specific voice",
no charge listed). An id the account does not have is answered 400 ``{"detail": {"status":
"voice_not_found", ...}}`` (``client.voices.get`` in elevenlabs/elevenlabs-python#454,
2025-01-20); text-to-speech answers the same status 404 since 2025-07 (elevenlabs/
elevenlabs-docs#1317), and older answers said ``voice_does_not_exist`` (elevenlabs-python#293,
2024-05): any of these is "no such voice". Every other answer (a bad key, a rate limit, a 5xx, a
transport failure) says nothing about the voice and raises the taxonomy's error
(``adapters._http``): the caller decides what an unanswered lookup means. The request goes
through ``HttpClient`` like every hosted call, its key only to the provider's origins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from adapters._http import HttpClient, body_of, classify_status

BASE_URL = "https://api.elevenlabs.io"
PROVIDER = "elevenlabs"
LOOKUP_TIMEOUT_S = 10.0  # a metadata read; a slower answer leaves the voice to the run
MISSING_STATUSES = (400, 404)
MISSING_CODES = ("voice_not_found", "voice_does_not_exist", "voice_id_does_not_exist")


@dataclass(frozen=True)
class VoiceAnswer:
    """What the provider said of a voice id: ``known``, and the provider's words when not."""

    voice_id: str
    known: bool
    message: str = ""


def missing_voice(status: int, body: Any) -> str | None:
    """The provider's message when an error answer says the voice does not exist (sources in
    the module docstring), else None."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if status not in MISSING_STATUSES or not isinstance(detail, dict):
        return None
    if not any(detail.get(field) in MISSING_CODES for field in ("status", "code")):
        return None
    return str(detail.get("message") or detail.get("status") or detail.get("code"))


def lookup_elevenlabs_voice(
    voice_id: str,
    api_key: str,
    base_url: str | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    api_origins: tuple[str, ...] = (),
) -> VoiceAnswer:
    """Ask ElevenLabs whether the key's account has ``voice_id``. Raises a ``ProviderError``
    (``TransientError``, ``RejectedInputError`` for a refused key, ...) when the answer says
    nothing about the voice."""
    client = HttpClient(
        PROVIDER,
        base_url or BASE_URL,
        {"xi-api-key": api_key},
        timeout=LOOKUP_TIMEOUT_S,
        transport=transport,
        api_origins=api_origins,
    )
    try:
        response = client.answer("GET", f"/v1/voices/{voice_id}")
    finally:
        client.close()
    if response.status_code < 300:
        return VoiceAnswer(voice_id, True)
    missing = missing_voice(response.status_code, body_of(response))
    if missing is not None:
        return VoiceAnswer(voice_id, False, missing)
    raise classify_status(PROVIDER, response)
