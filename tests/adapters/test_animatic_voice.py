"""The local animatic's spoken line is heard by the gate's speech check, however short: the local
renderer draws free previews and every emulated clip with sound, so a line it voices too quietly
fails the gate on every try (found by ``benchmarks/explore_boards.py``: ``dialogue: "Hello."``
was ``missing_speech`` on each model of the chain, after each was paid for)."""

from __future__ import annotations

import shutil

import numpy as np
import numpy.typing as npt
import pytest

from adapters import animatic
from adapters.base import GenerationRequest
from quality.expectation import ClipExpectation
from quality.policy import DetectorConfig
from quality.speech import VAD_RATE, check_speech, speech_segments


def _pcm16k(line: str | None, seconds: float, seed: int) -> npt.NDArray[np.int16]:
    request = GenerationRequest(
        shot_id="s", prompt="a dock", duration_s=seconds, width=64, height=36, fps=24,
        model="local/animatic", audio=True, dialogue=line,
    )  # fmt: skip
    track, note = animatic.audio_track(request, round(seconds * animatic.SAMPLE_RATE), seed)
    assert note == ("placeholder-voice" if line else "ambient")
    mono = track.mean(axis=0)
    at = np.linspace(0, mono.size - 1, round(mono.size * VAD_RATE / animatic.SAMPLE_RATE))
    pcm: npt.NDArray[np.int16] = (
        np.clip(np.interp(at, np.arange(mono.size), mono), -1, 1) * 32767
    ).astype(np.int16)
    return pcm


@pytest.fixture(autouse=True)
def _no_espeak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)


@pytest.mark.parametrize("line", ["Hello.", "Hello there."])
@pytest.mark.parametrize("seconds", [2.0, 4.0])
def test_a_short_line_is_heard(line: str, seconds: float) -> None:
    expect = ClipExpectation(seconds, 64, 36, 24.0, "required", dialogue=line, speech="required")
    heard = [
        check_speech(_pcm16k(line, seconds, seed), expect, DetectorConfig()) == []
        for seed in range(4)
    ]
    assert all(heard)


def test_the_bed_alone_is_no_speech() -> None:
    assert speech_segments(_pcm16k(None, 2.0, 1), DetectorConfig()) == []
