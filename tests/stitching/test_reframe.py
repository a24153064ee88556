"""Reframing: the crop follows a moving subject without jitter, and variants are delivered."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from foundation.variants import resolve
from media.runner import run_ffmpeg
from stitching import loudness_check
from stitching.assembly import assemble
from stitching.loudness import measure_file
from stitching.plan import plan_edit
from stitching.reframe import deliver_variants, variant_path
from stitching.track import MAX_PAN_PER_SECOND, crop_path, measure, step_expression, track_path
from tests.stitching.conftest import PROFILE, X264, normalise_all

SQUARE = 16
START_X, SPEED = 8, 60  # pixels, pixels per second: crosses the 160 px frame in 2 s


def _square_centre(t: float) -> float:
    return START_X + SPEED * t + SQUARE / 2


@pytest.fixture(scope="module")
def moving(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bright square moving left to right over a dark frame, 2 s at 24 fps, 160x90."""
    path = tmp_path_factory.mktemp("reframe") / "moving.mp4"
    scene = (
        f"color=c=0x202020:s=160x90:r=24:d=2[bg];color=c=white:s={SQUARE}x{SQUARE}:r=24:d=2[sq];"
        f"[bg][sq]overlay=x={START_X}+{SPEED}*t:y=37"
    )
    run_ffmpeg(["-f", "lavfi", "-i", scene, "-f", "lavfi", "-i", "sine=f=440:r=48000:d=2",
                *X264, "-t", "2", str(path)])  # fmt: skip
    return path


@pytest.fixture(scope="module")
def segments(moving: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    folder = tmp_path_factory.mktemp("segments")
    return normalise_all([moving, moving], ["cut", "crossfade:0.25"], folder, frames=48)


class TestCropPath:
    def test_follows_the_square_without_jitter(self, segments: list[Any]) -> None:
        segment = segments[0][1]
        track = measure(segment.path, 160, 90, 48)
        crop = resolve("9:16", 160, 90).crop_width
        xs = crop_path(track.x, 160, crop, Fraction(24))
        centres = np.array(xs) + crop / 2
        truth = np.array([_square_centre(n / 24) for n in range(len(xs))])
        assert len(xs) == 48
        # the square (16 px) stays inside the 50 px window on every frame past the first few
        assert np.all(np.abs(centres[4:] - truth[4:]) <= (crop - SQUARE) / 2), centres - truth
        assert centres[-1] - centres[0] > 90  # it really panned left to right
        steps = np.abs(np.diff(xs))
        assert steps.max() <= 160 * MAX_PAN_PER_SECOND / 24 + 2

    def test_a_still_noisy_subject_does_not_move_the_crop(self) -> None:
        rng = np.random.default_rng(7)
        raw = tuple(80 + rng.normal(0, 3, 48))  # +-3 px of measurement noise around the centre
        xs = crop_path(raw, 160, 50, Fraction(24))
        assert len(set(xs)) == 1

    def test_expression_gives_each_frame_its_offset(self) -> None:
        assert step_expression([4, 4, 6, 2]) == "if(lt(n,2),4,if(lt(n,3),6,2))"
        assert step_expression([]) == "0"

    def test_a_path_of_many_changes_is_an_expression_ffmpeg_takes(self, tmp_path: Path) -> None:
        """Found by the explorer (seed 12065): a 12 s shot's 34x60 crop changed its offset about
        100 times; as a sum of one ``gte`` per change the expression passed the depth FFmpeg's
        parser takes and the crop failed to configure (exit 234). 300 changes, measured: each
        frame's crop starts at its offset."""
        offsets = [2 * (k % 40) for k in range(300)]
        stripes = tmp_path / "stripes.mp4"
        run_ffmpeg(["-f", "lavfi", "-i", "nullsrc=s=160x16:r=24:d=12.5,geq=lum='X':cb=128:cr=128",
                    "-frames:v", "300", "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p",
                    str(stripes)])  # fmt: skip
        out = tmp_path / "cropped.mp4"
        crop = f"crop=32:16:{step_expression(offsets).replace(',', chr(92) + ',')}:0"
        run_ffmpeg(["-i", str(stripes), "-vf", crop, "-c:v", "libx264", "-qp", "0",
                    "-pix_fmt", "yuv420p", str(out)])  # fmt: skip
        with av.open(str(out)) as container:
            left = [_luma(frame)[8, 2] for frame in container.decode(video=0)]
        assert len(left) == 300
        assert all(abs(value - (offsets[k] + 2)) <= 2 for k, value in enumerate(left)), left[:50]
        assert len(set(left)) >= 30  # the crop really moved


def _luma(frame: av.VideoFrame) -> np.ndarray:
    """The Y plane's values as stored (a grey conversion expands the limited range)."""
    plane = frame.planes[0]
    rows = np.frombuffer(bytes(plane), np.uint8).reshape(frame.height, plane.line_size)
    return np.asarray(rows[:, : frame.width], dtype=np.int64)


def _bright_columns(path: Path) -> tuple[tuple[int, int], list[float], float]:
    """Size, the bright square's centre column per frame, and the video duration."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        centres = []
        for frame in container.decode(stream):
            luma = frame.to_ndarray(format="gray")
            cols = np.flatnonzero((luma > 200).any(axis=0))
            centres.append(float(cols.mean()) if cols.size else float("nan"))
        assert stream.duration is not None
        assert stream.time_base is not None
        seconds = float(stream.duration * stream.time_base)
        return (stream.codec_context.width, stream.codec_context.height), centres, seconds


def test_variants_are_reframed_stitched_and_verified(segments: list[Any], tmp_path: Path) -> None:
    plan = plan_edit(segments, PROFILE)
    out = tmp_path / "out.mp4"
    variants = [resolve("9:16", 160, 90), resolve("1:1", 160, 90)]
    results = deliver_variants(plan, out, variants, tmp_path / "work")
    assert set(results) == {"9x16", "1x1"}
    for variant in variants:
        path = variant_path(out, variant.label)
        assert results[variant.label].verification["passed"]
        size, centres, seconds = _bright_columns(path)
        assert size == (variant.width, variant.height)
        assert seconds == pytest.approx(plan.total_seconds, abs=1 / 24)
        # the square is in the picture of every frame of the cut's shots (no crossfade there)
        assert not np.isnan(centres[4:40]).any()


def test_normalise_saves_the_proxy_the_track_is_measured_on(
    segments: list[Any], tmp_path: Path
) -> None:
    """The subject is measured on the grey proxy the normalise run wrote (no second decode), and
    that proxy agrees with decoding the segment."""
    segment = segments[0][1]
    proxy = track_path(segment.path)
    assert proxy.stat().st_size == 48 * 64 * 36
    from_proxy = measure(segment.path, 160, 90, 48)
    aside = tmp_path / "proxy"
    proxy.rename(aside)
    try:
        decoded = measure(segment.path, 160, 90, 48)
    finally:
        aside.rename(proxy)
    assert np.allclose(from_proxy.x, decoded.x, atol=2)


def test_a_variant_with_the_same_audio_takes_the_main_outputs_loudness(
    segments: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proven the same audio packets as the main output, a variant is not measured again; a file
    whose audio differs is."""
    plan = plan_edit(segments, PROFILE)
    main = assemble(plan, tmp_path / "out.mp4")
    measured: list[Path] = []

    def counted(path: Path) -> Any:
        measured.append(path)
        return measure_file(path)

    monkeypatch.setattr(loudness_check, "measure_file", counted)
    variants = [resolve("9:16", 160, 90)]
    results = deliver_variants(plan, main.path, variants, tmp_path / "work", main=main)
    loudness = results["9x16"].verification["checks"]["loudness"]
    assert loudness["measured_on"] == "out.mp4 (verified): the same audio packets"
    assert loudness["integrated_lufs"] == main.verification["checks"]["loudness"]["integrated_lufs"]
    assert measured == []
    quieter = tmp_path / "quieter.mp4"
    run_ffmpeg(["-i", str(main.path), "-c:v", "copy", "-af", "volume=-6dB", "-c:a", "aac",
                str(quieter)])  # fmt: skip
    check = loudness_check.check_loudness(plan, quieter, (main.path, loudness, "main"))
    assert measured == [quieter]
    assert "measured_on" not in check
    assert not check["passed"]
