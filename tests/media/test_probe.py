"""probe(): stream facts, SAR-aware display size, broken files."""

from __future__ import annotations

from pathlib import Path

from media.probe import EMPTY, probe, probe_guarded
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
