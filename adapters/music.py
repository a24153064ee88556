"""Music beds: ElevenLabs ``POST {base}/v1/music`` ("compose") and the local bed, behind one
``compose``.

ElevenLabs is asked for ``output_format=mp3_44100_128`` (what ``auto`` gives ``music_v1``, on every
plan; PCM at 44.1 kHz needs the Pro tier) and an instrumental bed (``force_instrumental``: a bed
goes under dialogue). The answer's body is the audio file. Wire rules, with sources, are in
``emulators/routes/_music_rules.py``. The local bed (``local/music``) is a few quiet sine-pad
chords chosen by the prompt's hash: one phrase of four bars, tiled, so it loops without a seam;
deterministic (the same prompt gives the same bed). Never retries: the music stage's chain does.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from adapters._audio import AudioEndpoint
from adapters.errors import RejectedInputError
from adapters.voices import wav_bytes

BASE_URLS = {"elevenlabs": "https://api.elevenlabs.io"}
ELEVENLABS_FORMAT = "mp3_44100_128"
LOCAL_RATE = 48_000
LOCAL_PEAK = 0.3  # quiet: the stitcher sets the bed's level (``gain_db``) anyway
FADE_S = 0.25

# chord progressions (semitones of each chord above the root), one chord a bar
_PROGRESSIONS = (
    ((0, 4, 7), (9, 12, 16), (5, 9, 12), (7, 11, 14)),  # I vi IV V
    ((0, 3, 7), (8, 12, 15), (3, 7, 10), (10, 14, 17)),  # i VI III VII
    ((0, 4, 7), (5, 9, 12), (0, 4, 7), (7, 11, 14)),  # I IV I V
    ((0, 3, 7), (5, 8, 12), (7, 10, 14), (0, 3, 7)),  # i iv v i
)


@dataclass(frozen=True)
class MusicRequest:
    prompt: str
    provider_model: str
    seconds: float


@dataclass(frozen=True)
class Bed:
    """``audio``: the bed's file (``suffix`` names its container); ``note``: how it was made."""

    audio: bytes
    suffix: str
    note: str


def elevenlabs_body(request: MusicRequest) -> dict[str, Any]:
    return {
        "prompt": request.prompt,
        "music_length_ms": round(request.seconds * 1000),
        "model_id": request.provider_model,
        "force_instrumental": True,
    }


class MusicClient(AudioEndpoint):
    """One provider's music endpoint (``local``: this machine's bed, no HTTP)."""

    BASE_URLS = BASE_URLS
    WHAT = "music"

    def compose(self, request: MusicRequest) -> Bed:
        if self.provider == "local":
            return Bed(local_bed(request.prompt, request.seconds), ".wav", "local-bed")
        if self.provider == "elevenlabs":
            url = f"{self.base_url}/v1/music"
            headers = {"xi-api-key": self.api_key}
            params = {"output_format": ELEVENLABS_FORMAT}
            raw = self._post(url, elevenlabs_body(request), headers, params)
            return Bed(raw, ".mp3", self.provider)
        raise RejectedInputError(f"no music client for {self.provider}", self.provider)


def _midi_hz(note: float) -> float:
    return float(440.0 * 2.0 ** ((note - 69) / 12))


def _phrase(seed: int, rate: int) -> np.ndarray:
    """Four bars of soft pad chords: each bar swells in and out, so bars (and loops) join quietly."""
    root = 45 + seed % 8  # A2..E3
    chords = _PROGRESSIONS[(seed >> 3) % len(_PROGRESSIONS)]
    bar_s = 1.6 + ((seed >> 6) % 5) * 0.2
    n = round(bar_s * rate)
    t = np.arange(n) / rate
    swell = np.sin(np.pi * t / bar_s) ** 2  # 0 at both ends of the bar
    bars = []
    for chord in chords:
        tone = np.zeros(n)
        for step in chord:
            hz = _midi_hz(root + 12 + step)
            tone += np.sin(2 * np.pi * hz * t) + 0.3 * np.sin(2 * np.pi * 2 * hz * t)
        bars.append(tone * swell)
    phrase = np.concatenate(bars)
    return phrase / max(float(np.abs(phrase).max()), 1e-9)


def local_bed(prompt: str, seconds: float, rate: int = LOCAL_RATE) -> bytes:
    """A deterministic, quiet, loopable bed for ``prompt``, ``seconds`` long, as a WAV file."""
    return wav_bytes(bed_samples(prompt, seconds, rate), rate)


def bed_samples(prompt: str, seconds: float, rate: int) -> np.ndarray:
    """The local bed's mono samples (also the emulated music model's)."""
    seed = zlib.crc32(" ".join(prompt.lower().split()).encode())
    phrase = _phrase(seed, rate)
    total = max(1, round(seconds * rate))
    samples = np.tile(phrase, total // phrase.size + 1)[:total] * LOCAL_PEAK
    fade = min(round(FADE_S * rate), total // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        samples[:fade] *= ramp
        samples[-fade:] *= ramp[::-1]
    return samples
