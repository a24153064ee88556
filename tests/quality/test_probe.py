"""probe(): stream facts, SAR-aware display size, broken files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from quality.probe import probe


def test_display_size_applies_sample_aspect_ratio(make_clip: Callable[..., Path]) -> None:
    anamorphic = make_clip(
        "anamorphic", "-f", "lavfi", "-i", "testsrc2=s=240x180:r=24:d=0.5,setsar=4/3"
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
