"""Text to speech: OpenAI ``POST {base}/audio/speech``, ElevenLabs
``POST {base}/v1/text-to-speech/{voice_id}`` and the local voice, behind one ``speak``.

Every client returns a WAV file's bytes: OpenAI is asked for ``response_format: wav``; ElevenLabs
for ``output_format=pcm_44100`` (raw 16-bit mono PCM, wrapped here); the local voice writes WAV.
Wire rules (with sources) are in ``emulators/routes/_speech_rules.py``. Never retries: the tts
stage's fallback chain does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from adapters._http import classify_status
from adapters.errors import ProviderTimeoutError, RejectedInputError, TransientError
from adapters.voices import local_speech, pcm_wav

BASE_URLS = {"openai": "https://api.openai.com/v1", "elevenlabs": "https://api.elevenlabs.io"}
ELEVENLABS_FORMAT = "pcm_44100"
ELEVENLABS_RATE = 44_100


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    provider_model: str
    voice: str
    instructions: str | None = None


@dataclass(frozen=True)
class Speech:
    """``wav``: the spoken line as a WAV file; ``note``: how it was made (``espeak-ng``,
    ``placeholder-voice`` or the provider)."""

    wav: bytes
    note: str


def openai_body(request: SpeechRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.provider_model,
        "input": request.text,
        "voice": request.voice,
        "response_format": "wav",
    }
    if request.instructions:
        body["instructions"] = request.instructions
    return body


def elevenlabs_body(request: SpeechRequest) -> dict[str, Any]:
    return {"text": request.text, "model_id": request.provider_model}


class SpeechClient:
    """One provider's speech endpoint (``local``: this machine's voice, no HTTP)."""

    def __init__(
        self,
        provider: str,
        api_key: str = "",
        base_url: str | None = None,
        client: httpx.Client | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        self.provider = provider
        self.api_key = api_key
        self.base_url = (base_url or BASE_URLS.get(provider, "")).rstrip("/")
        self._client = client
        self.timeout_s = timeout_s

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s)
        return self._client

    def close(self) -> None:
        """Close the HTTP client (one this client made or was given)."""
        if self._client is not None:
            self._client.close()

    def speak(self, request: SpeechRequest) -> Speech:
        if self.provider == "local":
            wav, note = local_speech(request.text, request.voice)
            return Speech(wav, note)
        if self.provider == "openai":
            url = f"{self.base_url}/audio/speech"
            headers = {"Authorization": f"Bearer {self.api_key}"}
            raw = self._post(url, openai_body(request), headers, {})
            return Speech(raw, self.provider)
        if self.provider == "elevenlabs":
            url = f"{self.base_url}/v1/text-to-speech/{request.voice}"
            headers = {"xi-api-key": self.api_key}
            params = {"output_format": ELEVENLABS_FORMAT}
            raw = self._post(url, elevenlabs_body(request), headers, params)
            return Speech(pcm_wav(raw, ELEVENLABS_RATE), self.provider)
        raise RejectedInputError(f"no speech client for {self.provider}", self.provider)

    def _post(
        self,
        url: str,
        body: Mapping[str, Any],
        headers: Mapping[str, str],
        params: Mapping[str, str],
    ) -> bytes:
        try:
            response = self.client.post(
                url, json=dict(body), headers=dict(headers), params=dict(params)
            )
        except httpx.TimeoutException as exc:
            raise ProviderTimeoutError(f"speech timed out: {exc}", self.provider) from exc
        except httpx.RequestError as exc:
            raise TransientError(f"speech unreachable: {exc}", self.provider) from exc
        if response.status_code >= 400:
            raise classify_status(self.provider, response)
        return response.content
