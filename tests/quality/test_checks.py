"""Probe facts and checks against the request: size, aspect, fps, duration grid, rotation, integrity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from media.probe import probe
from media.runner import run_ffmpeg
from quality.checks import expected_duration
from quality.gate import evaluate
from tests.media.cover_art import with_cover_art
from tests.media.rotation import rotated_copy
from tests.quality.conftest import CLIPS

EXPECT = CLIPS["clean"].expect


def _found(path: Path, **kw: object):
    verdict = evaluate(path, replace(EXPECT, **kw))  # type: ignore[arg-type]
    return verdict, {f.code: f for f in verdict.findings}


@pytest.mark.parametrize(
    ("grid", "requested", "expected"),
    [(None, 6.0, 6.0), ((5.0, 10.0), 6.0, 10.0), ((5.0, 10.0), 5.0, 5.0), ((4.0, 8.0), 12.0, 8.0)],
)
def test_expected_duration_follows_the_provider_grid(grid, requested, expected) -> None:
    assert expected_duration(replace(EXPECT, duration_s=requested, duration_grid=grid)) == expected


def test_duration_tolerance_is_one_frame(corpus_clip: Callable[[str], Path]) -> None:
    path = corpus_clip("clean")
    assert "short_duration" not in _found(path, duration_s=2.0 + 1 / 30, duration_grid=None)[1]
    _, found = _found(path, duration_s=2.1, duration_grid=None)
    assert found["short_duration"].value == pytest.approx(2.0)
    assert _found(path, duration_s=1.0, duration_grid=None)[1]["long_duration"].severity == "info"


def test_wrong_fps_is_systematic(corpus_clip: Callable[[str], Path]) -> None:
    verdict, found = _found(corpus_clip("clean"), fps=30.0)
    assert found["wrong_fps"].value == pytest.approx(24.0)
    assert verdict.action == "escalate"


def test_smaller_size_same_aspect(corpus_clip: Callable[[str], Path]) -> None:
    _, found = _found(corpus_clip("clean"), width=640, height=360, tier="premium")
    assert "wrong_aspect" not in found
    assert found["wrong_size"].severity == "error"


def test_rotation_from_display_matrix(corpus_clip: Callable[[str], Path], tmp_path: Path) -> None:
    rotated = rotated_copy(corpus_clip("clean"), tmp_path / "rotated.mp4")
    info = probe(rotated)
    assert info.rotation in (90, 270)
    assert info.display_size == (180, 320)
    _, found = _found(rotated, width=180, height=320)
    assert "rotated" in found
    assert "wrong_aspect" not in found


def test_probe_reports_streams(corpus_clip: Callable[[str], Path]) -> None:
    info = probe(corpus_clip("clean_stereo"))
    assert (info.width, info.height, info.fps) == (320, 180, 24.0)
    assert (info.audio_channels, info.audio_rate) == (2, 48000)
    assert not info.vfr
    assert info.rotation == 0


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 100])
def test_undecodable_file_is_a_finding_not_a_crash(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    verdict, found = _found(path)
    assert "undecodable" in found
    assert verdict.action == "retry"
    assert verdict.score == 0.0


def test_missing_file_is_a_finding(tmp_path: Path) -> None:
    verdict, found = _found(tmp_path / "nope.mp4")
    assert "undecodable" in found
    assert verdict.to_dict()["action"] == "retry"


def test_variable_frame_rate_noticed_from_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x180:r=24:d=2", "-vf",
                "setpts='if(lt(N,24),N,N+12)/(24*TB)'", "-fps_mode", "vfr", "-c:v", "libx264",
                "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)])  # fmt: skip
    _, found = _found(path, audio="any", duration_s=2.5, duration_grid=None)
    assert found["vfr"].value == pytest.approx(13.0, abs=0.5)
    # the picture before the gap is held on screen: a freeze from 23/24 s to 36/24 s
    assert found["freeze"].start == pytest.approx(23 / 24)
    assert found["freeze"].end == pytest.approx(36 / 24)


def test_audio_only_file_has_no_video(tmp_path: Path) -> None:
    path = tmp_path / "audio.m4a"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", str(path)])
    verdict, found = _found(path)
    assert "no_video" in found
    assert verdict.action == "escalate"


def test_audio_with_cover_art_has_no_video(tmp_path: Path) -> None:
    """Its artwork was taken for the video: ``truncated`` and ``av_mismatch`` (a retry)."""
    verdict, found = _found(with_cover_art(tmp_path))
    assert set(found) == {"no_video"}
    assert verdict.action == "escalate"
    assert not probe(tmp_path / "song.m4a").has_video


def test_ten_bit_video_and_packed_pcm_audio(tmp_path: Path) -> None:
    path = tmp_path / "tenbit.mov"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x180:r=24:d=2,drawbox=color=black:t=fill:enable='lt(t,0.5)'",
                "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000:d=2", "-c:v", "prores_ks",
                "-pix_fmt", "yuv422p10le", "-c:a", "pcm_s16le", str(path)])  # fmt: skip
    verdict, found = _found(path)
    assert found["black_head"].end == pytest.approx(0.5)
    assert verdict.metrics["loudness_lufs"] == pytest.approx(-21.8, abs=1.0)
    assert verdict.action == "repair"
