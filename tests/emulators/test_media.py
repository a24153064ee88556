"""Injected defects are really in the produced files, measured with FFmpeg and PyAV."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import numpy as np
import pytest

from emulators.media import ClipSpec, apply_defect, capped, render_clip
from emulators.scenario import Defect
from media.probe import probe

SPEC = ClipSpec("runway", "gen4.5", "a red kite", 2.0, 160, 90, fps=12.0, audio=True)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_clip(SPEC, tmp_path_factory.mktemp("clean") / "clip.mp4")


def copy_with(clean: Path, tmp_path: Path, defect: Defect) -> Path:
    path = tmp_path / "defective.mp4"
    path.write_bytes(clean.read_bytes())
    apply_defect(path, defect, SPEC)
    return path


def frame_means(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [
            float(np.asarray(f.to_ndarray(format="gray")).mean()) for f in container.decode(video=0)
        ]


def test_clean_clip_matches_the_spec(clean: Path):
    info = probe(clean)
    assert (info.width, info.height) == (160, 90)
    assert info.duration_s == pytest.approx(2.0, abs=0.1)
    assert info.has_audio


@pytest.mark.parametrize(
    ("kind", "window"),
    [("black_head", slice(0, 6)), ("black_tail", slice(-6, None)), ("black_middle", slice(9, 15))],
)
def test_black_segments(clean: Path, tmp_path: Path, kind: str, window: slice):
    means = frame_means(copy_with(clean, tmp_path, Defect(kind=kind, seconds=0.5)))
    assert max(means[window]) < 20
    assert max(means) > 40


def test_frozen_segment(clean: Path, tmp_path: Path):
    path = copy_with(clean, tmp_path, Defect(kind="frozen", seconds=1.0))
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    diffs = [float(np.abs(a.astype(int) - b).mean()) for a, b in itertools.pairwise(frames)]
    # a held picture re-encoded still changes by x264's refinement of it (up to ~0.6 grey levels)
    assert max(diffs[7:16]) < 1.0 < 5.0 < max(diffs[:5])


def test_wrong_size_short_duration_missing_audio(clean: Path, tmp_path: Path):
    small = probe(copy_with(clean, tmp_path, Defect(kind="wrong_size", scale=0.5)))
    assert (small.width, small.height) == (80, 44)
    short = probe(copy_with(clean, tmp_path, Defect(kind="short_duration", fraction=0.5)))
    assert short.duration_s < 1.3
    silent = probe(copy_with(clean, tmp_path, Defect(kind="missing_audio")))
    assert not silent.has_audio
    assert silent.has_video


def test_corrupt_file_is_unreadable(clean: Path, tmp_path: Path):
    info = probe(copy_with(clean, tmp_path, Defect(kind="corrupt")))
    assert info.error is not None or not info.has_video or info.duration_s == 0


def test_capped_keeps_even_sizes_and_aspect():
    spec = capped(ClipSpec("google", "veo", "p", 4.0, 1280, 720), 320)
    assert (spec.width, spec.height) == (320, 180)
    assert capped(spec, None) is spec
