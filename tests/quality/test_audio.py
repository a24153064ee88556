"""Audio detectors: loudness against the BS.1770 reference, silence, dropouts, clipping, A/V length."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from quality.audio import integrated_loudness, summarise_audio
from quality.events import Finding
from quality.gate import evaluate
from quality.policy import default_policy
from tests.quality.conftest import CLIPS

RATE = 48000


def _sine(
    amplitude: float, seconds: float = 3.0, freq: float = 1000.0, channels: int = 2
) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    wave = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.tile(wave, (channels, 1))


class TestLoudness:
    def test_reference_tone_reads_minus_23_lufs(self) -> None:
        # EBU Tech 3341: a 1 kHz sine at -23 dBFS in both channels reads -23 LUFS
        assert integrated_loudness(_sine(10 ** (-23 / 20)), RATE) == pytest.approx(-23.0, abs=0.2)

    def test_mono_is_three_db_quieter_and_level_tracks_gain(self) -> None:
        stereo = integrated_loudness(_sine(0.1), RATE)
        mono = integrated_loudness(_sine(0.1, channels=1), RATE)
        louder = integrated_loudness(_sine(0.2), RATE)
        assert stereo - mono == pytest.approx(3.01, abs=0.05)
        assert louder - stereo == pytest.approx(6.02, abs=0.05)

    def test_gating_ignores_silence(self) -> None:
        tone = _sine(0.1)
        padded = np.concatenate([tone, np.zeros_like(tone)], axis=1)
        # only the three 400 ms blocks straddling the edge (75/50/25 % tone) pass the gates
        assert integrated_loudness(padded, RATE) == pytest.approx(
            integrated_loudness(tone, RATE), abs=0.3
        )
        assert integrated_loudness(np.zeros((2, RATE), np.float32), RATE) == float("-inf")

    def test_summary_levels_and_clipping(self) -> None:
        cfg = default_policy().detectors
        series = summarise_audio((np.clip(_sine(2.0, seconds=1.0), -1, 1), RATE), cfg)
        assert series.peak == pytest.approx(1.0)
        assert series.clipped_share > 0.3
        assert series.duration_s == pytest.approx(1.0)


def _codes(path: Path, **kw: object) -> dict[str, Finding]:
    expect = replace(CLIPS["clean"].expect, **kw)  # type: ignore[arg-type]
    return {f.code: f for f in evaluate(path, expect).findings}


def test_clipping_detected_in_a_file(make_clip: Callable[..., Path]) -> None:
    path = make_clip(
        "loud",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x180:r=24:d=2",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:sample_rate=48000:d=2",
        "-af",
        "volume=30dB",
        "-shortest",
    )
    assert "audio_clipping" in _codes(path)


def test_av_length_mismatch(make_clip: Callable[..., Path]) -> None:
    path = make_clip(
        "long_audio",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x180:r=24:d=2",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:sample_rate=48000:d=3",
    )
    found = _codes(path)
    assert found["av_mismatch"].value == pytest.approx(1.0, abs=0.05)
    assert found["av_mismatch"].severity == "error"


def test_audio_when_none_requested_is_only_noted(corpus_clip: Callable[[str], Path]) -> None:
    found = _codes(corpus_clip("clean"), audio="none")
    assert found["unexpected_audio"].severity == "info"


def test_silent_track_is_fine_when_audio_is_optional(corpus_clip: Callable[[str], Path]) -> None:
    assert "silent_audio" not in _codes(corpus_clip("silent_audio"), audio="any")
    assert "missing_audio" not in _codes(corpus_clip("missing_audio"), audio="any")


def test_a_gap_in_the_audio_timestamps_is_a_dropout(
    make_clip: Callable[..., Path], tmp_path: Path
) -> None:
    """A WebM/MKV (MediaRecorder-style) whose audio packets skip 0.4 s: the decoder hands the
    samples on back to back, but the clip plays 0.4 s of nothing there, as a silent run would."""
    whole = make_clip("for_gap", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=24:d=2", "-f",
                      "lavfi", "-i", "sine=f=440:sample_rate=48000:d=2")  # fmt: skip
    gapped = tmp_path / "audio_gap.mkv"
    with av.open(str(whole)) as source, av.open(str(gapped), "w") as output:
        video = output.add_stream_from_template(source.streams.video[0])
        audio = output.add_stream_from_template(source.streams.audio[0])
        for packet in source.demux():
            if packet.pts is None or packet.dts is None or packet.time_base is None:
                continue
            if packet.stream.type == "audio" and 0.8 <= packet.pts * packet.time_base < 1.2:
                continue  # lost packets: the timestamps jump
            packet.stream = video if packet.stream.type == "video" else audio
            output.mux(packet)
    found = _codes(gapped, duration_s=2.0)
    assert "audio_dropout" in found, sorted(found)
    assert found["audio_dropout"].start == pytest.approx(0.8, abs=0.06)
    assert found["audio_dropout"].end == pytest.approx(1.2, abs=0.06)


def test_eight_channel_audio_is_measured(make_clip: Callable[..., Path]) -> None:
    """7.1 AAC: PyAV 18 lists nine planes for eight planar channels and ``to_ndarray`` reads the
    ninth, which killed the gate's process (segmentation fault)."""
    path = make_clip("seven_one", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=24:d=2", "-f",
                     "lavfi", "-i", "sine=f=440:sample_rate=48000:d=2", "-af",
                     "pan=7.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0|c6=c0|c7=c0")  # fmt: skip
    verdict = evaluate(path, replace(CLIPS["clean"].expect, duration_s=2.0))
    assert verdict.metrics["audio_s"] == pytest.approx(2.0, abs=0.05)
    assert not {"missing_audio", "silent_audio"} & {f.code for f in verdict.findings}
