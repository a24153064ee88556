"""Text to speech: OpenAI ``POST {base}/audio/speech``, ElevenLabs
``POST {base}/v1/text-to-speech/{voice_id}`` and the local voice, behind one ``speak``.

Every client returns a WAV file's bytes: OpenAI is asked for ``response_format: wav``; ElevenLabs
for ``output_format=pcm_24000`` (raw 16-bit mono PCM, wrapped here; 44.1 kHz PCM is refused below
the Pro plan, 24 kHz is served on every plan and carries speech whole); the local voice writes WAV.
Wire rules (with sources) are in ``emulators/routes/_speech_rules.py``. Never retries: the tts
stage's fallback chain does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters._audio import AudioEndpoint
from adapters.errors import RejectedInputError
from adapters.voices import local_speech, pcm_wav

BASE_URLS = {"openai": "https://api.openai.com/v1", "elevenlabs": "https://api.elevenlabs.io"}
ELEVENLABS_FORMAT = "pcm_24000"
ELEVENLABS_RATE = 24_000


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


class SpeechClient(AudioEndpoint):
    """One provider's speech endpoint (``local``: this machine's voice, no HTTP)."""

    BASE_URLS = BASE_URLS
    WHAT = "speech"

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
