"""The copy path's loudness estimate (``stitching.audio.estimate_lufs``) is made from the segments'
saved sub-blocks laid on the programme, transitions included: a line spoken under a crossfade is
heard faded, and a programme it leaves quiet is mixed whole at once instead of copied, measured off
target and rendered a second time (``benchmarks/bench_loudness_estimate.py`` measures it on random
programmes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stitching import EditPlan, assemble, meter, plan_edit
from stitching import assembly as assembly_mod
from stitching.audio import estimate_lufs, laid_out_lufs, mix, shot_level_lufs
from tests.stitching.conftest import PROFILE, make_clip, normalise_all

ROOM_TONE = "aevalsrc='0.002*(2*random(0)-1)':s=48000"
LINE_THEN_SILENCE = "aevalsrc='0.3*sin(2*PI*500*t)*lt(t,0.6)':s=48000"


def _measured(plan: EditPlan) -> float:
    """The meter run on the mixed programme (what the output's audio holds before its encode)."""
    rate = plan.profile.sample_rate
    blocks = meter.sub_blocks(mix(plan), 0, rate, ends=True)
    return meter.integrated(blocks.energy[: plan.total_samples // meter.hop(rate)], rate)


@pytest.fixture
def faded_line(media: Path, tmp_path: Path) -> EditPlan:
    """Room tone, then a shot whose only line is in its first 0.6 s, under a 0.5 s crossfade."""
    room = make_clip(media / "room.mp4", audio=ROOM_TONE)
    line = make_clip(media / "line.mp4", audio=LINE_THEN_SILENCE)
    items = normalise_all([room, line], ["cut", "crossfade:0.5"], tmp_path / "seg", frames=36)
    return plan_edit(items, PROFILE)


def test_the_estimate_hears_the_crossfade_over_a_line(faded_line: EditPlan) -> None:
    measured = _measured(faded_line)
    assert measured < PROFILE.loudness_lufs - 2, "the crossfade lowers the line"
    assert laid_out_lufs(faded_line) == pytest.approx(measured, abs=0.3)
    assert estimate_lufs(faded_line) == laid_out_lufs(faded_line)
    shot_level = shot_level_lufs(faded_line)
    assert shot_level is not None
    assert abs(shot_level - measured) > 2, "the shots' own loudness does not see the fade"


def test_a_programme_the_fade_leaves_quiet_is_rendered_once(
    faded_line: EditPlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renders: list[bool] = []
    render = assembly_mod._render

    def counted(*args: Any, **kwargs: Any) -> Any:
        renders.append(bool(kwargs.get("encode_audio")))
        return render(*args, **kwargs)

    monkeypatch.setattr(assembly_mod, "_render", counted)
    result = assemble(faded_line, tmp_path / "out.mp4")
    assert renders == [False], "one render, its audio mixed whole from the start"
    assert result.verification["render"]["audio_path"] == "encode"
    assert "LUFS" in result.verification["render"]["reason"]
    loudness = result.verification["checks"]["loudness"]
    assert loudness["passed"]
    assert abs(loudness["integrated_lufs"] - PROFILE.loudness_lufs) <= 1.0


def test_without_saved_sub_blocks_the_shots_own_loudness_is_used(faded_line: EditPlan) -> None:
    meter.blocks_path(faded_line.shots[1].segment.path).unlink()
    assert laid_out_lufs(faded_line) is None
    assert estimate_lufs(faded_line) == shot_level_lufs(faded_line)
