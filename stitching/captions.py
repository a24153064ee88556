"""Captions: ``OUT.srt`` and ``OUT.vtt`` beside every output, timed from where the dialogue is.

One cue per shot with dialogue (more when the text is long). A cue starts and ends where speech is
measured in the shot's normalised audio (the segment's PCM sidecar, the very samples its AAC was
encoded from), moved to the programme by the shot's ``sample_in`` on the edit plan, so transitions
and overlaps are accounted for. Speech is found with an energy envelope: 10 ms RMS windows, active
when within ``ACTIVE_BELOW_PEAK_DB`` of the loudest window and above ``FLOOR_DBFS``, from the first
to the last run of at least ``MIN_RUN_WINDOWS`` active windows. A shot with no such run gets a cue
over its whole span on the timeline, and the cue says so (``timing: "shot"``, and a warning). A
line spoken by a tts stage is not measured in the mix (the shot's own sound may be as loud as the
voice): its cue spans the speech measured in the voice clip, where the clip was placed in the shot
(``Captions.voices``, ``timing: "voice"``).

Lines hold at most ``MAX_CHARS`` characters and a cue at most ``MAX_LINES`` lines (a last line of
digits alone gets a cue of its own); longer text is split into consecutive cues sharing the speech
span in proportion to their characters. Files are written with ``pysubs2``; a storyboard without
dialogue gets valid, empty files (``WEBVTT`` only).
"""

from __future__ import annotations

import logging
import os
import re
import textwrap
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from stitching.errors import PlanError, StitchError
from stitching.plan import EditPlan, ShotPlan

log = logging.getLogger(__name__)

MAX_CHARS = 42
MAX_LINES = 2
WINDOW_S = 0.010
FLOOR_DBFS = -50.0
ACTIVE_BELOW_PEAK_DB = 30.0
MIN_RUN_WINDOWS = 3
FORMATS = ("srt", "vtt")


@dataclass(frozen=True)
class Captions:
    """What to caption: dialogue by shot id; ``burn_in`` draws the cues into the picture too."""

    dialogue: Mapping[str, str] = field(default_factory=dict)
    burn_in: bool = False
    voices: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """The voice clips of lines spoken by a tts stage, by shot id: ``speech_s`` (start, end of
    the speech from the shot's start, seconds), ``path``, ``model``, ``tempo``, ``offset_s``."""

    def to_dict(self) -> dict[str, Any]:
        """As ``OUT.plan.json`` keeps it, so a re-stitch from the plan captions the same lines."""
        data: dict[str, Any] = {"dialogue": dict(self.dialogue), "burn_in": self.burn_in}
        if self.voices:
            data["voices"] = {k: dict(v) for k, v in self.voices.items()}
        return data

    @classmethod
    def from_plan(cls, data: Mapping[str, Any]) -> Captions:
        """The captions a stored plan carries (none in a plan written before they were kept)."""
        found = data.get("captions") or {}
        if not isinstance(found, dict):
            raise PlanError("edit plan: captions must be an object")
        lines = found.get("dialogue") or {}
        if not isinstance(lines, dict) or not all(isinstance(v, str) for v in lines.values()):
            raise PlanError("edit plan: captions.dialogue must map shot ids to lines")
        voices = found.get("voices") or {}
        if not isinstance(voices, dict) or not all(
            isinstance(v, dict) and len(v.get("speech_s") or ()) == 2 for v in voices.values()
        ):
            raise PlanError("edit plan: captions.voices must map shot ids to voice clips")
        lines = {str(k): v for k, v in lines.items()}
        return cls(lines, bool(found.get("burn_in", False)), {str(k): v for k, v in voices.items()})


@dataclass(frozen=True)
class Cue:
    """One caption on the programme, in milliseconds. ``timing`` is ``speech`` when measured,
    ``shot`` when no speech was found and the shot's whole span is used."""

    shot_id: str
    start_ms: int
    end_ms: int
    lines: tuple[str, ...]
    timing: Literal["speech", "shot", "voice"]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lines": list(self.lines)}


def caption_paths(out: Path) -> dict[str, Path]:
    """Where ``write_sidecars`` writes each format for the output ``out``."""
    return {fmt: out.with_name(f"{out.stem}.{fmt}") for fmt in FORMATS}


def wrap(text: str) -> list[tuple[str, ...]]:
    """``text`` as cues of at most ``MAX_LINES`` lines of at most ``MAX_CHARS`` characters
    (breaking at spaces; a longer word is cut)."""
    lines = textwrap.wrap(
        " ".join(text.split()), MAX_CHARS, break_long_words=True, break_on_hyphens=False
    )
    chunks = [tuple(lines[i : i + MAX_LINES]) for i in range(0, len(lines), MAX_LINES)]
    return [part for chunk in chunks for part in _number_apart(chunk)]


def _number_apart(chunk: tuple[str, ...]) -> list[tuple[str, ...]]:
    """A cue ending in a line of digits alone reads, in SRT readers (pysubs2's among them), as the
    next cue's number and loses that line: that line becomes a cue of its own."""
    if len(chunk) > 1 and re.fullmatch(r"\d+", chunk[-1]):
        return [chunk[:-1], chunk[-1:]]
    return [chunk]


def speech_span(pcm: npt.NDArray[np.float32], sample_rate: int) -> tuple[int, int] | None:
    """(first, end) sample of the speech in ``pcm`` (samples x channels), or None when none."""
    window = max(1, round(sample_rate * WINDOW_S))
    count = len(pcm) // window
    if count == 0:
        return None
    mono = pcm[: count * window].astype(np.float64).reshape(count, window, -1).mean(axis=2)
    level = 10 * np.log10(np.mean(mono**2, axis=1) + 1e-20)
    threshold = max(FLOOR_DBFS, float(level.max()) - ACTIVE_BELOW_PEAK_DB)
    active = np.concatenate([[False], level >= threshold, [False]])
    edges = np.flatnonzero(np.diff(active.astype(np.int8)))
    runs = [
        (a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= MIN_RUN_WINDOWS
    ]
    if not runs:
        return None
    return int(runs[0][0]) * window, min(len(pcm), int(runs[-1][1]) * window)


def _shot_pcm(shot: ShotPlan) -> npt.NDArray[np.float32]:
    pcm = np.fromfile(shot.segment.audio_path, dtype=np.float32)
    return pcm.reshape(-1, 2)


def _shot_cues(
    plan: EditPlan, shot: ShotPlan, text: str, voice: Mapping[str, Any] | None = None
) -> list[Cue]:
    rate = plan.profile.sample_rate
    timing: Literal["speech", "shot", "voice"] = "speech"
    if voice is not None:
        first, last = (float(t) for t in voice["speech_s"])
        span: tuple[int, int] | None = (round(first * rate), round(last * rate))
        timing = "voice"
    else:
        span = speech_span(_shot_pcm(shot), rate)
    if span is None:
        log.warning("captions: no speech found in shot %s; its cue spans the shot", shot.shot_id)
        span, timing = (0, shot.segment.samples), "shot"
    total_ms = round(plan.total_seconds * 1000)
    start = min(total_ms, round((shot.sample_in + span[0]) * 1000 / rate))
    end = min(total_ms, round((shot.sample_in + span[1]) * 1000 / rate))
    chunks = wrap(text)
    weights = np.cumsum([0] + [sum(len(line) for line in chunk) for chunk in chunks])
    bounds = [start + round((end - start) * int(w) / int(weights[-1])) for w in weights]
    return [
        Cue(shot.shot_id, bounds[i], max(bounds[i + 1], bounds[i] + 1), chunk, timing)
        for i, chunk in enumerate(chunks)
    ]


def cues_for(plan: EditPlan, captions: Captions) -> list[Cue]:
    """Every cue of the programme, in time order."""
    unknown = set(captions.dialogue) - {shot.shot_id for shot in plan.shots}
    if unknown:
        raise StitchError(f"captions name shots not in the edit plan: {sorted(unknown)}")
    cues: list[Cue] = []
    for shot in plan.shots:
        text = (captions.dialogue.get(shot.shot_id) or "").strip()
        if text:
            cues += _shot_cues(plan, shot, text, captions.voices.get(shot.shot_id))
    return sorted(cues, key=lambda cue: (cue.start_ms, cue.end_ms))


def subtitle_file(cues: list[Cue]) -> Any:
    """The cues as a ``pysubs2.SSAFile`` (lines joined by ASS hard breaks)."""
    import pysubs2

    subs = pysubs2.SSAFile()
    for cue in cues:
        event = pysubs2.SSAEvent(start=cue.start_ms, end=cue.end_ms, text=r"\N".join(cue.lines))
        event.name = cue.shot_id
        subs.append(event)
    return subs


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:10]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_sidecars(cues: list[Cue], out: Path) -> dict[str, Path]:
    """Write ``OUT.srt`` and ``OUT.vtt`` beside ``out``; their paths by format."""
    subs = subtitle_file(cues)
    paths = caption_paths(out)
    for fmt, path in paths.items():
        write_atomic(path, subs.to_string(fmt))
    return paths


def check_sidecars(cues: list[Cue], paths: Mapping[str, Path]) -> dict[str, Any]:
    """Read the files back: each holds every cue, at its times, with its lines."""
    import pysubs2

    wanted = [(c.start_ms, c.end_ms, "\n".join(c.lines)) for c in cues]
    found: dict[str, int] = {}
    passed = True
    for fmt, path in paths.items():
        events = pysubs2.load(str(path), format_=fmt).events
        got = [(e.start, e.end, e.plaintext) for e in events]
        found[fmt] = len(got)
        passed = passed and got == wanted
    timings = {cue.timing for cue in cues}
    return {"cues": len(cues), "read_back": found, "timing": sorted(timings), "passed": passed}
