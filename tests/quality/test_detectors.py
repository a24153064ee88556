"""Every detector against clips with known injected defects, measured from real files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from media.runner import run_ffmpeg
from quality.expectation import ClipExpectation
from quality.gate import evaluate
from tests.quality.conftest import CLIPS

FRAME = 1 / 24
SILENT = replace(CLIPS["clean_exact"].expect, audio="any")


def _findings(path: Path, expect: ClipExpectation | None = None):
    clip = CLIPS.get(path.stem)
    verdict = evaluate(path, expect or (clip.expect if clip else CLIPS["clean"].expect))
    return verdict, {f.code: f for f in verdict.findings}


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_injected_defect_found_and_verdict_matches(
    name: str, corpus_clip: Callable[[str], Path]
) -> None:
    clip = CLIPS[name]
    verdict, found = _findings(corpus_clip(name))
    problems = {code for code, f in found.items() if f.severity != "info"}
    assert clip.defects <= problems, f"{name}: missing {clip.defects - problems}"
    if not clip.defects:
        assert problems == set()
    assert verdict.action in clip.verdicts


@pytest.mark.parametrize(
    ("name", "code", "start", "end"),
    [
        ("black_head_0.5", "black_head", 0.0, 0.5),
        ("black_tail_0.25", "black_tail", 1.75, 2.0),
        ("black_middle_0.5", "black_middle", 0.75, 1.25),
        ("freeze_tail_0.5", "freeze_tail", 1.5, 2.0),
        ("freeze_middle_0.75", "freeze", 17 / 24, 36 / 24),
        ("blur_middle", "blur", 0.6, 1.25),
        ("audio_dropout", "audio_dropout", 0.8, 1.3),
    ],
)
def test_event_intervals_are_closed_and_exact(
    name: str, code: str, start: float, end: float, corpus_clip: Callable[[str], Path]
) -> None:
    _, found = _findings(corpus_clip(name))
    tolerance = 0.13 if code in ("blur", "audio_dropout") else FRAME / 2
    assert found[code].start == pytest.approx(start, abs=tolerance)
    assert found[code].end == pytest.approx(end, abs=tolerance)


def test_trailing_runs_close_at_end_of_file(corpus_clip: Callable[[str], Path]) -> None:
    for name, code in (("black_tail_0.5", "black_tail"), ("freeze_tail_0.5", "freeze_tail")):
        verdict, found = _findings(corpus_clip(name))
        assert found[code].end == pytest.approx(verdict.metrics["video_s"])


def test_black_run_is_not_also_a_freeze(corpus_clip: Callable[[str], Path]) -> None:
    for name in ("black_head_1.0", "black_middle_0.5", "black_tail_0.5"):
        _, found = _findings(corpus_clip(name))
        assert not {"freeze", "freeze_head", "freeze_tail", "frozen_clip"} & set(found)


def test_cut_inside_shot_located(corpus_clip: Callable[[str], Path]) -> None:
    _, found = _findings(corpus_clip("cut_inside"))
    assert found["cut"].start == pytest.approx(1.0, abs=FRAME / 2)


def test_letterbox_and_pillarbox_not_confused(corpus_clip: Callable[[str], Path]) -> None:
    _, letter = _findings(corpus_clip("letterbox"))
    _, pillar = _findings(corpus_clip("pillarbox"))
    assert "letterbox" in letter
    assert "pillarbox" not in letter
    assert "pillarbox" in pillar
    assert "letterbox" not in pillar
    assert letter["letterbox"].value == pytest.approx(44 / 180, abs=0.03)


def test_flicker_found_but_not_on_fades(make_clip: Callable[..., Path]) -> None:
    fade = make_clip("fade", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=24:d=2,fade=in:0:24")
    _, found = _findings(fade, SILENT)
    assert "flicker" not in found
    assert "blur" not in found  # sharpness is measured relative to contrast


def test_overexposure_is_reported(make_clip: Callable[..., Path]) -> None:
    path = make_clip("bright", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=24:d=2,eq=brightness=0.7")
    _, found = _findings(path, SILENT)
    assert found["overexposed"].value == pytest.approx(1.0)


def test_low_motion_on_a_static_but_changing_picture(make_clip: Callable[..., Path]) -> None:
    path = make_clip(
        "still_fade",
        "-f",
        "lavfi",
        "-i",
        "smptebars=s=320x180:r=24:d=2,eq=brightness='0.012*mod(n,2)':eval=frame",
    )
    _, found = _findings(path, SILENT)
    assert "low_motion" in found
    assert not {"freeze", "frozen_clip"} & set(found)


def test_whole_clip_frozen(make_clip: Callable[..., Path]) -> None:
    path = make_clip("still", "-f", "lavfi", "-i", "smptebars=s=320x180:r=24:d=2")
    verdict, found = _findings(path, SILENT)
    assert found["frozen_clip"].start == 0.0
    assert found["frozen_clip"].end == pytest.approx(2.0)
    assert "low_motion" not in found
    assert verdict.action == "retry"


def test_soft_clip_against_absolute_floor(make_clip: Callable[..., Path]) -> None:
    path = make_clip("soft", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=24:d=2,gblur=sigma=8")
    _, found = _findings(path, SILENT)
    assert "soft_clip" in found
    assert "blur" not in found  # relative to its own median, nothing stands out


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuvj420p"])
def test_exposure_reads_limited_and_full_range_alike(tmp_path: Path, pix_fmt: str) -> None:
    """Blown white and crushed black from an RGB render: limited range puts them at luma 235 and
    16, full range at 255 and 0; both are the same picture and get the same findings."""
    path = tmp_path / f"white_black_{pix_fmt}.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "color=white:s=320x180:r=24:d=2", "-f", "lavfi", "-i",
                "color=black:s=320x90:r=24:d=2", "-filter_complex",
                f"[0][1]overlay=0:90,format={pix_fmt}",
                "-c:v", "libx264", "-preset", "ultrafast", str(path)])  # fmt: skip
    _, found = _findings(path, SILENT)
    assert {"overexposed", "underexposed"} <= set(found)


@pytest.mark.parametrize("fps", [24, 60, 1000])
def test_freeze_is_judged_over_time_not_per_frame(make_clip: Callable[..., Path], fps: int) -> None:
    """At 1000 fps consecutive frames of a moving picture differ by almost nothing: a freeze is a
    picture unchanged over ``freeze_lag_s`` (1/30 s), whatever the rate, and a held one is still
    caught at every rate."""
    moving = make_clip(f"moving_{fps}", "-f", "lavfi", "-i", f"testsrc=s=64x36:r={fps}:d=0.5")
    still = make_clip(f"held_{fps}", "-f", "lavfi", "-i", f"smptebars=s=64x36:r={fps}:d=0.5")
    _, found = _findings(moving, SILENT)
    assert not {"freeze", "freeze_head", "freeze_tail", "frozen_clip"} & set(found)
    _, found = _findings(still, SILENT)
    assert found["frozen_clip"].start == 0.0
    assert found["frozen_clip"].end == pytest.approx(0.5, abs=1 / fps)
