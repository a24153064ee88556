"""Cross-shot colour/exposure continuity at joins and within scenes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from quality.consistency import check_joins
from quality.errors import QualityError

SRC = "testsrc2=s=320x180:r=24:d=1"


@pytest.fixture(scope="module")
def shots(make_clip: Callable[..., Path]) -> dict[str, Path]:
    return {
        "a": make_clip("shot_a", "-f", "lavfi", "-i", SRC),
        "b": make_clip("shot_b", "-f", "lavfi", "-i", f"{SRC},hflip"),
        "dark": make_clip("shot_dark", "-f", "lavfi", "-i", f"{SRC},eq=brightness=-0.35"),
        "tinted": make_clip(
            "shot_tint", "-f", "lavfi", "-i", f"{SRC},colorchannelmixer=rr=1:gg=0.7:bb=0.4"
        ),
    }


def test_matching_shots_score_high(shots: dict[str, Path]) -> None:
    reports = check_joins([shots["a"], shots["b"]], ["s1", "s1"])
    join = next(r for r in reports if r.kind == "join")
    assert not join.flagged
    assert join.score > 0.8


def test_exposure_jump_inside_a_scene_is_flagged_with_the_offender(shots: dict[str, Path]) -> None:
    reports = check_joins([shots["a"], shots["b"], shots["dark"]], ["s1", "s1", "s1"])
    joins = [r for r in reports if r.kind == "join"]
    assert [r.flagged for r in joins] == [False, True]
    assert joins[1].offending == 2
    assert joins[1].luma_delta > 20
    scene = [r for r in reports if r.kind == "scene" and r.flagged]
    assert {(r.a, r.b) for r in scene} == {(0, 2), (1, 2)}


def test_colour_cast_is_flagged(shots: dict[str, Path]) -> None:
    reports = check_joins([shots["a"], shots["tinted"]], ["s1", "s1"])
    assert reports[0].flagged
    assert reports[0].chroma_delta > 8


def test_scene_change_is_reported_but_not_flagged(shots: dict[str, Path]) -> None:
    reports = check_joins([shots["a"], shots["dark"]], ["s1", "s2"])
    assert len(reports) == 1
    assert not reports[0].same_scene
    assert not reports[0].flagged
    assert reports[0].score < 0.5


def test_argument_mismatch(shots: dict[str, Path]) -> None:
    with pytest.raises(QualityError):
        check_joins([shots["a"]], ["s1", "s2"])
