"""``shotline stitch`` of a clip of one or two frames between longer ones. x264 leaves its
reordering delay out of so short an encode: the short segment's packets were decoded two frames
later than the others', the next segment's first packet then came no later than its last, and the
muxer refused it (``ArgumentError: Invalid argument``) after every clip was normalised."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
import typer
from typer.testing import CliRunner

from shotline.commands import stitch as stitch_cmd
from tests.stitching.conftest import make_clip

app = typer.Typer()
stitch_cmd.register(app)


@app.callback()
def _root() -> None:
    """Keep ``stitch`` as a named sub-command."""


def _stamps(path: Path) -> tuple[list[tuple[int, int]], int]:
    """Every video packet's (pts, dts), and the frames decoded."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [(p.pts, p.dts) for p in container.demux(stream) if p.size]
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    return [
        (int(pts), int(dts)) for pts, dts in packets if pts is not None and dts is not None
    ], frames


@pytest.mark.parametrize("order", ["middle", "ends"])
def test_a_clip_of_one_frame_stitches_between_longer_ones(tmp_path: Path, order: str) -> None:
    long = make_clip(tmp_path / "long.mp4", seconds=1.0, audio=None)
    short = make_clip(
        tmp_path / "short.mp4", video="testsrc=s=160x90:r=24", seconds=1 / 24, audio=None
    )
    clips = [long, short, long] if order == "middle" else [short, long, short]
    out = tmp_path / "o.mp4"
    args = ["stitch", *map(str, clips), "-o", str(out), "--size", "160x90", "--fps", "24"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    packets, frames = _stamps(out)
    with av.open(str(short)) as container:
        short_frames = sum(1 for _ in container.decode(video=0))
    expected = 2 * 24 + short_frames if order == "middle" else 24 + 2 * short_frames
    assert frames == len(packets) == expected
    decoding = [dts for _, dts in packets]
    assert decoding == sorted(set(decoding)), "each packet decoded after the one before"
    assert all(dts <= pts for pts, dts in packets)
