"""probe(): stream facts, SAR-aware display size, broken files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from media.files import not_a_file
from media.probe import EMPTY, probe, probe_guarded, truncation
from media.runner import run_ffmpeg


def test_display_size_applies_sample_aspect_ratio(tmp_path: Path) -> None:
    anamorphic = tmp_path / "anamorphic.mp4"
    source = "testsrc2=s=240x180:r=24:d=0.5,setsar=4/3"
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            source,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            str(anamorphic),
        ]
    )
    info = probe(anamorphic)
    assert (info.width, info.height) == (240, 180)
    assert info.display_size == (320, 180)


def test_unreadable_file_reports_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.mp4"
    path.write_bytes(b"\x00" * 64)
    info = probe(path)
    assert info.error
    assert not info.has_video


def test_an_empty_file_is_named_empty_not_invalid_data(tmp_path: Path) -> None:
    """FFmpeg says 'Invalid data found when processing input' of a 0-byte file."""
    path = tmp_path / "empty.mp4"
    path.touch()
    assert probe(path).error == EMPTY
    assert probe(path, read_rotation=False).error == EMPTY
    info, why = probe_guarded(path)
    assert (info.error, why) == (EMPTY, None)


def _encode(path: Path, video_s: float, audio_s: float) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc=s=64x36:r=24:d={video_s}", "-f", "lavfi", "-i",
                f"sine=d={audio_s}", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                str(path)])  # fmt: skip
    return path


def test_a_video_shorter_than_its_audio_is_not_truncated_a_cut_one_is(tmp_path: Path) -> None:
    """``truncation`` reads packets, not frames: a 0.5 s video under 1.5 s of audio is whole; a
    Matroska file (no stream durations, the container's alone) with its tail cut off is not."""
    assert truncation(probe(_encode(tmp_path / "long_audio.mp4", 0.5, 1.5))) is None
    whole = _encode(tmp_path / "whole.mkv", 1, 1)
    info = probe(whole)
    assert info.video_duration_s is None
    assert truncation(info) is None
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    said = truncation(probe(cut)) or ""
    assert re.fullmatch(r"it is truncated: its video stops at 0\.\d\d s of the 1\.0\d s its "
                        r"header declares", said), said  # fmt: skip


def test_why_a_path_is_no_file_to_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each of these was "PATH is not a file"; a missing file now says so."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "real").write_bytes(b"x")
    assert not_a_file(tmp_path / "real") is None
    assert not_a_file(tmp_path / "gone") == f"{tmp_path / 'gone'} does not exist"
    monkeypatch.chdir(tmp_path)
    assert not_a_file(Path("gone.png")) == (
        f"gone.png does not exist (a relative path, read from {tmp_path})"
    )
    assert not_a_file(tmp_path) == f"{tmp_path} is a folder, not a file"
    assert not_a_file(fifo) == f"{fifo} is not a regular file (a device, a pipe or a socket)"
    device = not_a_file(Path("/dev/zero"))
    assert device == "/dev/zero is not a regular file (a device, a pipe or a socket)"
