"""A crossfade window is the exact mix of its two sides, measured on the raw frames the graph
makes before any encoder (``stitching/blend.py``)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from media.graph import compile_graph, open_input
from media.runner import run_ffmpeg_stdout
from stitching.blend import transition_chain
from stitching.pieces import WindowPiece
from tests.stitching.conftest import PROFILE, make_clip

W, H = PROFILE.width, PROFILE.height


def _luma(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        planes = [f.to_ndarray(format="yuv420p")[:H] for f in container.decode(video=0)]
    return np.stack(planes).astype(np.float64)


def _window_luma(prev: Path, head: Path, window: WindowPiece, kind: str) -> np.ndarray:
    tail = open_input(str(prev))["v"].filter(
        "trim", start_frame=window.prev_from, end_frame=window.prev_frames
    )
    picture = transition_chain(tail, open_input(str(head))["v"], window, kind, PROFILE)
    graph = compile_graph([picture.filter("format", "yuv420p")])
    raw = run_ffmpeg_stdout(
        [*graph.inputs, "-filter_complex", graph.text, "-map", graph.labels[0],
         "-f", "rawvideo", "pipe:1"]
    )  # fmt: skip
    frames = np.frombuffer(raw, np.uint8).reshape(-1, W * H * 3 // 2)
    return frames[:, : W * H].reshape(-1, H, W).astype(np.float64)


@pytest.mark.parametrize(
    "window",
    [
        WindowPiece(1, 24, 12, 12, 36),  # exactly the overlap (keyframes where the hints put them)
        WindowPiece(1, 20, 15, 12, 36),  # 4 frames of the previous shot before, 3 of the next after
    ],
)
def test_a_crossfade_window_is_the_exact_mix(window: WindowPiece, tmp_path: Path) -> None:
    prev = make_clip(tmp_path / "a.mp4", "testsrc2=s=160x90:r=24", None)
    head = make_clip(tmp_path / "b.mp4", "smptebars=s=160x90:r=24", None)
    got = _window_luma(prev, head, window, "crossfade")
    a, b = _luma(prev)[window.prev_from :], _luma(head)[: window.head_to]
    before, n = len(a) - window.overlap, window.overlap
    weights = np.arange(n, dtype=np.float64)[:, None, None] / n
    mixed = a[before:] * (1 - weights) + b[:n] * weights
    expected = np.concatenate([a[:before], mixed, b[n:]])
    assert got.shape == expected.shape == (window.frames, H, W)
    assert np.array_equal(got[:before], a[:before])
    assert np.array_equal(got[before + n :], b[n:])
    assert np.abs(got - expected).max() <= 1.0
    assert abs(float(np.mean(got - expected))) < 0.1  # no bias (xfade's truncation was -0.4)


def test_other_kinds_keep_their_xfade_shape(tmp_path: Path) -> None:
    prev = make_clip(tmp_path / "a.mp4", "testsrc2=s=160x90:r=24", None)
    head = make_clip(tmp_path / "b.mp4", "smptebars=s=160x90:r=24", None)
    window = WindowPiece(1, 20, 15, 12, 36)
    got = _window_luma(prev, head, window, "fade")  # through black
    assert got.shape == (window.frames, H, W)
    means = got.mean(axis=(1, 2))
    darkest = int(np.argmin(means))
    assert means[darkest] < 20 < means[0]  # a dip through black...
    assert means[-1] > 20  # ...and out of it
    assert 4 < darkest < 4 + window.overlap  # inside the overlap, after the 4 frames kept
    assert np.array_equal(got[:4], _luma(prev)[20:24])
