"""A labelled corpus for the gate's content checks (``benchmarks/bench_gate.py``): generated clips
with known on-screen text and known speech or non-speech sound; no scraped media. Seeded, so the
corpus is the same on every run (``VERSION`` names it in the benchmark's output).

Each clip is 320x180, 3 s: words drawn with OpenCV at several sizes, places and colours (or none),
and speech-like audio at several pitches and rates, or silence, noise, tones, a chord and rhythmic
noise bursts (sounds a voice detector can mistake for speech)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from media.speechlike import speechlike
from tests.quality.content_media import RATE, encode

VERSION = "content-corpus-1"
W, H, FPS, SECONDS = 320, 180, 12, 3.0
WORDS = ("NEON HARBOUR", "OPEN", "EXIT", "HOTEL", "CAFE", "SALE", "DAWN", "FERRY", "NORTH", "TAXI")
NOT_SPEECH = ("silence", "noise-quiet", "noise-mid", "noise-loud", "tone-220", "tone-880",
              "chord", "bursts-4hz", "bursts-7hz", "hum-50")  # fmt: skip


@dataclass(frozen=True)
class TextClip:
    name: str
    shown: str | None  # drawn on screen
    scale: float
    place: tuple[int, int]
    colour: tuple[int, int, int]


@dataclass(frozen=True)
class SoundClip:
    name: str
    kind: str  # "speech" or one of NOT_SPEECH
    pitch_hz: float = 120.0
    syllables_per_s: float = 4.0
    seed: int = 0


def text_clips() -> list[TextClip]:
    rng = np.random.default_rng(11)
    clips = []
    for index, word in enumerate(WORDS * 2):
        scale = float(rng.uniform(0.7, 1.3))
        x = int(rng.integers(8, max(9, W - int(len(word) * 20 * scale) - 8)))
        y = int(rng.integers(50, H - 20))
        colour = tuple(int(c) for c in rng.integers(170, 256, 3))
        clips.append(TextClip(f"text-{index:02d}", word, scale, (x, y), colour))  # type: ignore[arg-type]
    clips += [TextClip(f"blank-{i}", None, 1.0, (0, 0), (0, 0, 0)) for i in range(6)]
    return clips


def sound_clips() -> list[SoundClip]:
    speech = [
        SoundClip(f"speech-{i:02d}", "speech", pitch, rate, seed=i)
        for i, (pitch, rate) in enumerate(
            (p, r) for p in (90.0, 120.0, 160.0, 220.0) for r in (3.0, 4.0, 5.0)
        )
    ]
    return speech + [SoundClip(kind, kind) for kind in NOT_SPEECH]


def _picture(index: int, clip: TextClip | None, size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    image = np.full((size[1], size[0], 3), (40, 60, 90), np.uint8)
    cv2.circle(image, (30 + index * 6, 40), 22, (200, 180, 50), -1)
    if clip is not None and clip.shown:
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(image, clip.shown, clip.place, font, clip.scale, clip.colour, 2, cv2.LINE_AA)
    return image


def _sound(clip: SoundClip, seconds: float) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(clip.seed + 100)
    total = int(seconds * RATE)
    t = np.arange(total) / RATE
    room = 0.004 * rng.standard_normal(total)
    if clip.kind == "speech":
        voice = speechlike(2.0, RATE, pitch_hz=clip.pitch_hz,
                           syllables_per_s=clip.syllables_per_s, seed=clip.seed)  # fmt: skip
        start = int(0.4 * RATE)
        room[start : start + voice.size] += voice
        return room.astype(np.float32)
    if clip.kind.startswith("noise"):
        level = {"noise-quiet": 0.03, "noise-mid": 0.15, "noise-loud": 0.45}[clip.kind]
        return (level * rng.standard_normal(total)).clip(-1, 1).astype(np.float32)
    if clip.kind.startswith("tone"):
        return (0.3 * np.sin(2 * np.pi * float(clip.kind[5:]) * t)).astype(np.float32)
    if clip.kind == "chord":
        chord: npt.NDArray[np.float64] = np.sum(
            [np.sin(2 * np.pi * f * t) for f in (262, 330, 392)], axis=0
        )
        return (0.15 * chord).astype(np.float32)
    if clip.kind.startswith("bursts"):
        rate = float(clip.kind.split("-")[1].removesuffix("hz"))
        gate = (np.sin(2 * np.pi * rate * t) > 0.3).astype(float)
        return (0.3 * gate * rng.standard_normal(total)).clip(-1, 1).astype(np.float32)
    if clip.kind == "hum-50":
        hum: npt.NDArray[np.float64] = np.sum(
            [np.sin(2 * np.pi * 50 * k * t) / k for k in range(1, 6)], axis=0
        )
        return (0.2 * hum + room).astype(np.float32)
    return np.zeros(total, np.float32)  # silence


def write(
    path: Path,
    text: TextClip | None = None,
    sound: SoundClip | None = None,
    size: tuple[int, int] = (W, H),
    seconds: float = SECONDS,
    fps: int = FPS,
) -> Path:
    """The clip as an H.264 + AAC MP4 (silent audio without ``sound``)."""
    pictures = (_picture(index, text, size) for index in range(round(seconds * fps)))
    silent = np.zeros(int(seconds * RATE), np.float32)
    samples = _sound(sound, seconds) if sound is not None else silent
    return encode(path, pictures, size, fps, samples)
