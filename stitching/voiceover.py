"""A shot's spoken line (its tts stage) fitted to the shot and mixed over the shot's own sound.

The line starts ``LEAD_S`` into the shot and must end ``TAIL_S`` before the shot does. A line that
runs longer is sped up with FFmpeg's ``atempo`` (pitch kept) by at most ``MAX_TEMPO``; beyond that
it does not fit and the stage fails with the reason (``fit_problem``). The fitted line is a 48 kHz
mono WAV; ``overlay_argv`` lays it over the accepted clip at its offset (the clip's picture is
copied, its sound mixed with the line, or the line alone over silence for a silent clip), before
the clip is normalised, so the segment's audio, the loudness pass, the music's ducking and the
captions all see the voice where it plays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from foundation.captions import FASTEST_WORD_S

LEAD_S = 0.25
TAIL_S = 0.15
MAX_TEMPO = 1.25
RATE = 48_000


@dataclass(frozen=True)
class VoiceFit:
    """How a line sits in its shot: ``tempo`` > 1 when it was sped up to fit."""

    source_s: float
    tempo: float
    offset_s: float

    @property
    def seconds(self) -> float:
        return self.source_s / self.tempo


def room_s(shot_s: float) -> float:
    """How long a line may last in a ``shot_s`` shot."""
    return max(0.0, shot_s - LEAD_S - TAIL_S)


def room_problem(words: int, shot_s: float) -> str | None:
    """Why no voice can fit a ``words``-word line in a ``shot_s`` shot, known before it is spoken
    (None when one may): the shot has no room, or less than the words take at the fastest pace
    (``FASTEST_WORD_S``) sped up by ``MAX_TEMPO``."""
    room, least = room_s(shot_s), words * FASTEST_WORD_S / MAX_TEMPO
    if room > 0 and room >= least:
        return None
    return (
        f"the {shot_s:g}s shot holds {room:.2f}s of speech ({LEAD_S:g}s lead-in, {TAIL_S:g}s "
        f"tail); its {words} word{'s' * (words != 1)} need at least {least:.2f}s even at "
        f"{1 / FASTEST_WORD_S:g} words a second sped up {MAX_TEMPO:g}x: shorten the line or "
        "lengthen the shot"
    )


def fit_line(spoken_s: float, shot_s: float) -> VoiceFit | str:
    """The fit of a ``spoken_s`` line in a ``shot_s`` shot, or why it does not fit."""
    room = room_s(shot_s)
    if spoken_s <= room:
        return VoiceFit(spoken_s, 1.0, LEAD_S)
    tempo = spoken_s / room if room > 0 else float("inf")
    if tempo <= MAX_TEMPO:
        return VoiceFit(spoken_s, round(tempo, 4), LEAD_S)
    return (
        f"the line lasts {spoken_s:.2f}s, the {shot_s:g}s shot holds {room:.2f}s of speech "
        f"({LEAD_S:g}s lead-in, {TAIL_S:g}s tail); it would have to be {tempo:.2f}x faster, "
        f"more than the {MAX_TEMPO:g}x allowed: shorten the line or lengthen the shot"
    )


def fitted_argv(source: Path, out: Path, tempo: float) -> list[str]:
    """Decode a provider's speech, resample it to 48 kHz mono 16-bit WAV, speed it by ``tempo``."""
    chain = f"aresample={RATE}" + (f",atempo={tempo:.4f}" if tempo > 1.0 else "")
    return ["-i", str(source), "-vn", "-ac", "1", "-af", chain, "-c:a", "pcm_s16le", str(out)]


def overlay_argv(
    clip: Path, voice: Path, offset_s: float, clip_has_audio: bool, out: Path
) -> list[str]:
    """``clip`` with ``voice`` mixed in from ``offset_s``: picture copied, sound AAC at 48 kHz."""
    delay = round(offset_s * 1000)
    line = f"[1:a]aresample={RATE},aformat=channel_layouts=stereo,adelay={delay}:all=1"
    if clip_has_audio:
        graph = (
            f"{line}[line];[0:a]aresample={RATE},aformat=channel_layouts=stereo[own];"
            "[own][line]amix=inputs=2:duration=first:normalize=0[mix]"
        )
    else:
        graph = f"{line},apad[mix]"
    return [
        "-i", str(clip), "-i", str(voice), "-filter_complex", graph,
        "-map", "0:v:0", "-map", "[mix]", "-c:v", "copy", "-c:a", "aac", "-b:a", "192k",
        "-ar", str(RATE), "-shortest", "-movflags", "+faststart", str(out),
    ]  # fmt: skip


def longest_heard(asked_s: float) -> float:
    """How much of a provider's audio answer is decoded at most: four times the seconds it was
    asked for, plus 60 (as the gate bounds a clip, ``quality.gate.longest_decoded``). A few MB of
    compressed silence can hold hours: an answer that runs longer is refused, not decoded."""
    return asked_s * 4 + 60


def read_mono(path: Path, rate: int = RATE, max_s: float = math.inf) -> npt.NDArray[np.float32]:
    """The audio of ``path`` as mono float32 at ``rate`` (one PyAV decode), stopping at the first
    frame past ``max_s`` seconds."""
    import av

    chunks: list[npt.NDArray[np.float32]] = []
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in container.decode(audio=0):
            if frame.time is not None and frame.time > max_s:
                break
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1).astype(np.float32))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1).astype(np.float32))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
