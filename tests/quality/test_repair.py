"""Repair: the verdict's keep-range, trimmed frame-accurately, passes the gate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import av
import pytest

from media.probe import count_frames, probe
from media.runner import run_ffmpeg
from quality.errors import QualityError
from quality.gate import evaluate
from quality.repair import trim, trim_args
from tests.quality.conftest import CLIPS


@pytest.mark.parametrize("name", ["black_head_0.5", "freeze_tail_0.5", "black_tail_0.25"])
def test_trimmed_clip_passes_the_gate(
    name: str, corpus_clip: Callable[[str], Path], tmp_path: Path
) -> None:
    expect = CLIPS[name].expect
    verdict = evaluate(corpus_clip(name), expect)
    assert verdict.action == "repair"
    assert verdict.repair is not None
    start, stop = verdict.repair
    fixed = trim(corpus_clip(name), verdict.repair, tmp_path / "fixed.mp4")
    assert count_frames(fixed) == round((stop - start) * 24)
    after = evaluate(fixed, replace(expect, duration_grid=None, duration_s=stop - start))
    assert after.action == "accept", [f.code for f in after.findings]
    assert probe(fixed).has_audio


def test_invalid_keep_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(QualityError):
        trim_args(tmp_path / "a.mp4", (1.0, 0.5), tmp_path / "b.mp4")


def test_truncated_file_is_repaired_when_the_good_part_covers_the_shot(
    corpus_clip: Callable[[str], Path], tmp_path: Path
) -> None:
    expect = replace(CLIPS["corrupt_tail"].expect, duration_s=1.0)
    verdict = evaluate(corpus_clip("corrupt_tail"), expect)
    assert verdict.action == "repair"
    assert verdict.repair is not None
    assert verdict.repair[1] == pytest.approx(1.125)
    fixed = trim(corpus_clip("corrupt_tail"), verdict.repair, tmp_path / "fixed.mp4")
    after = evaluate(fixed, replace(expect, duration_grid=None, duration_s=1.125))
    assert after.action == "accept", [f.code for f in after.findings]


def test_a_black_head_is_cut_where_the_gate_saw_it_when_audio_starts_first(
    corpus_clip: Callable[[str], Path], tmp_path: Path
) -> None:
    """The gate's times start at the first picture; a clip whose audio starts 0.4 s before it
    (stream start times differ) is cut at the same picture, not 0.4 s earlier."""
    source = corpus_clip("black_head_0.5")
    early = tmp_path / "audio_first.mp4"
    run_ffmpeg(["-itsoffset", "0.4", "-i", str(source), "-f", "lavfi", "-i",
                "sine=f=440:r=48000:d=3", "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                "-c:a", "aac", "-shortest", str(early)])  # fmt: skip
    verdict = evaluate(early, CLIPS["black_head_0.5"].expect)
    assert verdict.action == "repair"
    assert verdict.repair is not None
    start, stop = verdict.repair
    fixed = trim(early, verdict.repair, tmp_path / "fixed.mp4")
    assert count_frames(fixed) == round((stop - start) * 24)
    with av.open(str(fixed)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="gray")
    assert first.mean() > 40, "the repaired clip still opens on the black head"
