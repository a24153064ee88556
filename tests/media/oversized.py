"""A clip declaring more pixels a frame than any output (8192x4352, over ``MAX_PIXELS``) in about
100 KB, and a spy on the full probe (which decodes a first frame) to show it was never decoded."""

from __future__ import annotations

from pathlib import Path

import pytest

from media import probe as media_probe
from media.runner import run_ffmpeg

REFUSAL = "it declares 8192x4352 pixels a frame, over 33,177,600 (not decoded)"


def write_over_8k(path: Path) -> Path:
    """An H.264 file of 8192x4352 frames (a 16000x16000 one costs FFmpeg 1.4 GB to encode)."""
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=gray:s=8192x4352:r=10:d=0.1", "-c:v", "libx264",
                "-preset", "ultrafast", str(path)])  # fmt: skip
    return path


def spy_full_probe(monkeypatch: pytest.MonkeyPatch, target: str) -> list[Path]:
    """Replace ``target`` (a ``probe`` name, e.g. ``"adapters.download.probe"``) by the probe with
    a record of the files probed in full (``read_rotation``, the default, decodes a frame)."""
    decoded: list[Path] = []
    full_probe = media_probe.probe

    def spy(path: Path, *, read_rotation: bool = True) -> media_probe.MediaInfo:
        if read_rotation:
            decoded.append(path)
        return full_probe(path, read_rotation=read_rotation)

    monkeypatch.setattr(target, spy)
    return decoded
