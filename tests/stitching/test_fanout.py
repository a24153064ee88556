"""Variants made in the run that normalises a shot: subject measured first, crops as more outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from foundation.storyboard import Transition
from foundation.variants import resolve
from media.runner import run_ffmpeg
from stitching.assembly import keyframe_hints, sample_offsets
from stitching.fanout import VariantJob, measure_source, normalise_fanout
from stitching.pieces import WindowPiece
from stitching.plan import plan_edit
from stitching.reframe import reframed, variant_profile
from stitching.track import Crop, measure
from stitching.video import plan_pieces
from stitching.windows import window_path
from tests.stitching.conftest import PROFILE, X264

VARIANT = resolve("9:16", 160, 90)  # a 50x90 crop
FRAMES = 48
TRANSITIONS = [Transition.parse("cut"), Transition.parse("crossfade:0.25")]


@pytest.fixture(scope="module")
def moving(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bright square crossing a dark 160x90 frame left to right in 2 s, with a tone."""
    path = tmp_path_factory.mktemp("fanout") / "moving.mp4"
    scene = (
        "color=c=0x202020:s=160x90:r=24:d=2[bg];color=c=white:s=16x16:r=24:d=2[sq];"
        "[bg][sq]overlay=x=8+60*t:y=37"
    )
    run_ffmpeg(["-f", "lavfi", "-i", scene, "-f", "lavfi", "-i", "sine=f=440:r=48000:d=2",
                *X264, "-t", "2", str(path)])  # fmt: skip
    return path


@pytest.fixture(scope="module")
def made(moving: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, Any]]:
    """Two shots of ``moving`` (a cut, then a crossfade), each normalised with its 9:16 variant
    in one run, the second with the variant's window from the first: (main, variant) each."""
    work = tmp_path_factory.mktemp("fanout-work")
    hints = keyframe_hints(TRANSITIONS, [FRAMES] * 2, PROFILE)
    offsets = sample_offsets(TRANSITIONS, [FRAMES] * 2, PROFILE)
    pairs: list[tuple[Any, Any]] = []
    for index in range(2):
        before = (pairs[-1][0], TRANSITIONS[index]) if pairs else None
        variant_before = (pairs[-1][1], TRANSITIONS[index]) if pairs else None
        job = VariantJob(VARIANT, work / "variant" / f"s{index}.mp4", variant_before)
        main, variants = normalise_fanout(
            moving, PROFILE, FRAMES, work / f"s{index}.mp4", hints=hints[index],
            sample_offset=offsets[index], before=before, variants=[job],
        )  # fmt: skip
        pairs.append((main, variants[VARIANT.label]))
    return pairs


def _audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


def _square_columns(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        columns = []
        for frame in container.decode(video=0):
            bright = np.flatnonzero((frame.to_ndarray(format="gray") > 200).any(axis=0))
            columns.append(float(bright.mean()) if bright.size else float("nan"))
        return columns


def test_the_variant_follows_the_subject_at_its_size(made: list[tuple[Any, Any]]) -> None:
    _, variant = made[0]
    assert (variant.width, variant.height, variant.frames) == (50, 90, FRAMES)
    assert variant.path.with_suffix(".track.json").is_file()
    columns = _square_columns(variant.path)
    assert len(columns) == FRAMES
    assert not np.isnan(columns[4:]).any()  # the square stays in the 50 px crop as it pans


def test_the_variant_copies_the_main_segments_audio(made: list[tuple[Any, Any]]) -> None:
    for main, variant in made:
        assert _audio_packets(variant.path) == _audio_packets(main.path)
        assert variant.audio_path == main.audio_path


def test_the_variants_window_is_rendered_in_the_run(made: list[tuple[Any, Any]]) -> None:
    pair = [(f"s{i}", variant, TRANSITIONS[i]) for i, (_, variant) in enumerate(made)]
    plan = plan_edit(pair, variant_profile(PROFILE, VARIANT))
    window = next(p for p in plan_pieces(plan) if isinstance(p, WindowPiece))
    cached = window_path(plan, window)
    assert cached is not None
    assert cached.is_file()


def test_reframing_later_finds_the_variant_made(
    made: list[tuple[Any, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: Any) -> None:
        raise AssertionError("reframed again")

    monkeypatch.setattr("stitching.reframe.reframe_segment", refuse)
    main, variant = made[1]
    hints = keyframe_hints(TRANSITIONS, [FRAMES] * 2, PROFILE)[1]
    assert reframed(main, hints, PROFILE, VARIANT, variant.path) == variant


def test_the_subject_measured_before_agrees_with_the_segment(
    moving: Path, made: list[tuple[Any, Any]]
) -> None:
    before = measure_source(moving, PROFILE, FRAMES)
    assert before is not None
    after = measure(made[0][0].path, 160, 90, FRAMES)  # the proxy the normalise run wrote
    assert np.allclose(before.x, after.x, atol=2)
    assert np.allclose(before.y, after.y, atol=2)


def test_a_size_variant_is_scaled_from_its_crop(moving: Path, tmp_path: Path) -> None:
    size = resolve("100x180", 160, 90)
    job = VariantJob(size, tmp_path / "variant" / "s0.mp4")
    _, variants = normalise_fanout(
        moving, PROFILE, FRAMES, tmp_path / "s0.mp4", hints=(0, 0), sample_offset=0,
        variants=[job],
    )  # fmt: skip
    made = variants[size.label]
    assert (made.width, made.height, made.frames) == (100, 180, FRAMES)
    assert made.sar == "1"


def test_without_a_measured_subject_the_shot_is_normalised_alone(
    moving: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("stitching.fanout.measure_source", lambda *_: None)
    job = VariantJob(VARIANT, tmp_path / "variant" / "s0.mp4")
    main, variants = normalise_fanout(
        moving, PROFILE, FRAMES, tmp_path / "s0.mp4", hints=(0, 0), sample_offset=0,
        variants=[job],
    )  # fmt: skip
    assert variants == {}
    assert main.frames == FRAMES
    assert not job.out.exists()


def test_a_run_failing_with_its_variants_normalises_the_shot_alone(
    moving: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FFmpeg refusing the variants' outputs costs the shot nothing: it is normalised alone and
    its variants are reframed later."""
    wide = Crop(400, 90, "0", "0")  # wider than the 160 px frame: FFmpeg's crop refuses it
    monkeypatch.setattr("stitching.fanout.crop_of", lambda *_: (wide, {}))
    job = VariantJob(VARIANT, tmp_path / "variant" / "s0.mp4")
    main, variants = normalise_fanout(
        moving, PROFILE, FRAMES, tmp_path / "s0.mp4", hints=(0, 0), sample_offset=0,
        variants=[job],
    )  # fmt: skip
    assert variants == {}
    assert (main.width, main.frames) == (160, FRAMES)
    assert not list(job.out.parent.glob(".*"))  # no temporary file left behind
