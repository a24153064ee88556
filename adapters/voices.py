"""A character's voice description mapped to a provider's voice, deterministically; and the free
local voice (``local/voice``).

``"calm, low"`` is matched word by word against each voice's traits; the voice with the most
matches wins and ties go to the earlier voice in the model's list (the registry's ``voices``), so
the same description always gets the same voice. A description with no matching word gets the
model's first voice. ``openai:onyx`` or ``elevenlabs:<voice_id>`` names a voice outright, which
only that provider honours. The traits are shotline's own labels of the providers' stock voices
(from the voice names and the descriptions integrators give them; UNCERTAIN, not the providers').
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import wave
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foundation.spoken import spoken_words
from media.speechlike import speechlike, spoken_length_s

LOCAL_RATE = 48_000
PLACEHOLDER = "placeholder-voice"

# OpenAI's built-in voices (openai 3.60.0 types/audio/speech_create_params.py: alloy, ash, ballad,
# coral, echo, fable, onyx, nova, sage, shimmer, verse, marin, cedar; ballad, verse, marin and cedar
# for the gpt-4o-mini-tts models only: UNCERTAIN). marin and cedar carry no traits here (none
# published): they are chosen only when named (``openai:marin``)
OPENAI_TRAITS: dict[str, tuple[str, ...]] = {
    "alloy": ("neutral", "balanced", "even"),
    "ash": ("clear", "confident", "firm"),
    "ballad": ("emotive", "gentle", "melodic"),
    "coral": ("warm", "friendly", "cheerful", "female"),
    "echo": ("measured", "steady", "male"),
    "fable": ("storyteller", "british", "expressive"),
    "nova": ("bright", "young", "energetic", "female"),
    "onyx": ("low", "deep", "calm", "gravelly", "male"),
    "sage": ("calm", "wise", "soft"),
    "shimmer": ("soft", "light", "airy", "female"),
    "verse": ("dramatic", "dynamic", "expressive"),
}
# ElevenLabs premade voices by voice_id (ids as integrators use them, e.g. Rachel
# 21m00Tcm4TlvDq8ikWAM and Adam pNInz6obpgDQGcFmaJgB; that they are on every account: UNCERTAIN)
ELEVENLABS_TRAITS: dict[str, tuple[str, ...]] = {
    "21m00Tcm4TlvDq8ikWAM": ("calm", "clear", "female", "young"),  # Rachel
    "pNInz6obpgDQGcFmaJgB": ("low", "deep", "male", "authoritative"),  # Adam
    "EXAVITQu4vr4xnSDxMaL": ("soft", "friendly", "female", "warm"),  # Sarah (Bella)
    "TxGEqnHWrfWFTfGW9XjX": ("young", "male", "energetic"),  # Josh
    "onwK4e9ZLuTAKqWW03F9": ("british", "male", "measured"),  # Daniel
    "pqHfZKP75CvOlQylNhV4": ("old", "male", "gravelly"),  # Bill
}
_WORD = re.compile(r"[a-z]+")
_NAMED = re.compile(r"^(openai|elevenlabs|local):(\S+)$")


@dataclass(frozen=True)
class VoiceChoice:
    """The provider voice a description maps to, and the instructions sent with it (models that
    take them: gpt-4o-mini-tts)."""

    voice: str
    instructions: str | None


def named_voice(description: str) -> tuple[str, str] | None:
    """``(provider, voice)`` of a description that names one provider's voice outright."""
    match = _NAMED.match(description.strip())
    return (match[1], match[2]) if match else None


def _catalog(provider: str, voices: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    if provider == "openai":
        return [(v, OPENAI_TRAITS.get(v, ())) for v in voices]
    if provider == "elevenlabs":
        return list(ELEVENLABS_TRAITS.items())
    return [(v, ()) for v in voices]


def choose_voice(
    provider: str, voices: Sequence[str], description: str, instructions: bool
) -> VoiceChoice | None:
    """The voice of ``provider`` (a model offering ``voices``) for ``description``; None when the
    description names another provider's voice or a voice the model does not offer."""
    named = named_voice(description)
    if named is not None:
        wanted_provider, voice = named
        offered = provider == "elevenlabs" or voice in voices
        if wanted_provider != provider or not offered:
            return None
        return VoiceChoice(voice, None)
    words = set(_WORD.findall(description.lower()))
    catalog = _catalog(provider, voices)
    if not catalog:
        return None
    best = max(catalog, key=lambda item: (len(words & set(item[1])), -catalog.index(item)))
    said = f"Speak in a {description} voice." if instructions else None
    return VoiceChoice(best[0], said)


# --- the local voice ---------------------------------------------------------------------------


def espeak_path() -> str | None:
    return shutil.which("espeak-ng") or shutil.which("espeak")


def _espeak(text: str, exe: str) -> bytes | None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        done = subprocess.run(
            [exe, "-w", str(out), "--", text], capture_output=True, check=False, timeout=60
        )
        if done.returncode != 0 or not out.exists():
            return None
        return out.read_bytes()


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """Mono float samples in [-1, 1] as a 16-bit PCM WAV file."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return buffer.getvalue()


def pcm_wav(raw: bytes, rate: int) -> bytes:
    """Raw 16-bit little-endian mono PCM (a provider's ``pcm`` format) as a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(raw[: len(raw) // 2 * 2])
    return buffer.getvalue()


def local_speech(text: str, voice: str) -> tuple[bytes, str]:
    """The local voice: espeak-ng's WAV when it is installed, else the animatic's placeholder
    voice (``media.speechlike``: glottal pulses through vowel formants, as long as the line takes
    to say), with a note saying which. ``voice`` seeds the placeholder's pitch."""
    exe = espeak_path()
    if exe is not None:
        spoken = _espeak(text, exe)
        if spoken is not None:
            return spoken, "espeak-ng"
    seed = zlib.crc32(f"{voice}|{text}".encode())
    pitch = 100.0 + (seed % 5) * 15.0
    words = max(1, spoken_words(text))
    samples = speechlike(spoken_length_s(words), LOCAL_RATE, pitch_hz=pitch, seed=seed, peak=0.8)
    return wav_bytes(samples, LOCAL_RATE), PLACEHOLDER
