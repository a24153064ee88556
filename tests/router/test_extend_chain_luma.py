"""Issue 18's long shots by Luma ray-3.2's own forward extension (+5 s a call by generation id,
the 5 s block alone, 30 s in all: registry ``luma/ray-3.2`` ``extend``, the cap UNCERTAIN):
planned like Veo's, a render and extensions of it, then continuing segments for the rest; no
other Luma or Kling model extends (their operations are not routed, README "Long shots")."""

from __future__ import annotations

import pytest

from foundation.storyboard import Mode, frame_problems
from registry import AudioSupport
from tests.router.conftest import board, plan_for, shot
from tests.router.test_extend_chain import parts

RAY = "luma/ray-3.2"


def test_a_luma_take_is_a_render_and_five_second_extensions(registry):
    result = plan_for(board([shot("a kite over the beach", 20, model=RAY)]), registry,
                      Mode.FINAL, providers={"luma"})  # fmt: skip
    assert result.ok
    assert parts(result) == [("shot1.part1", "render", 10.0), ("shot1.part2", "extend", 5.0),
                             ("shot1.part3", "extend", 5.0)]  # fmt: skip
    shots = [s for _, s in result.board.shots()]
    assert [(s.model, s.continues, s.extends) for s in shots] == [
        (RAY, False, False), (RAY, True, True), (RAY, True, True)]  # fmt: skip
    ext = result.decisions["shot1.part2"]
    assert ext.primary is not None
    assert (ext.primary.model_id, ext.primary.duration_s) == (RAY, 5.0)
    resolution = ext.primary.resolution
    assert ext.primary.quote_usd == pytest.approx(registry.get(RAY).quote(5, resolution))
    assert [c.model_id for c in ext.candidates] == [RAY]  # the operation is that model's own
    assert not frame_problems(result.board)
    split = result.to_dict()["long_shots"][0]
    assert split["model"] == RAY
    assert "extends it 2 time(s) by 5s with its own extend operation" in split["why"]


def test_past_the_cap_the_rest_continues_from_the_last_frame(registry):
    """A 60 s take: 10 s + 4 x 5 s = 30 s (the cap), then segments for the other 30 s."""
    result = plan_for(board([shot("one long take", 60, model=RAY)]), registry, Mode.FINAL,
                      providers={"luma"})  # fmt: skip
    assert result.ok
    ops = [op for _, op, _ in parts(result)]
    seconds = [s for _, _, s in parts(result)]
    assert ops == ["render", *["extend"] * 4, *["continue"] * 3]
    assert seconds == [10.0, 5.0, 5.0, 5.0, 5.0, 10.0, 10.0, 10.0]
    extend = registry.get(RAY).extend
    assert extend is not None
    assert sum(seconds[:5]) == extend.max_total_s


def test_only_ray_3_2_extends_among_luma_and_kling(registry):
    """Dream Machine's extend (keyframes.frame0 generation) and Kling's video-extend are not
    routed: how long an extension is and what comes back are not documented (UNCERTAIN)."""
    extending = {m.id for m in registry.models if m.extend is not None}
    assert {m for m in extending if m.startswith(("luma/", "kling/"))} == {RAY}
    spec = registry.get(RAY)
    assert spec.extend is not None
    assert (spec.extend.input, spec.extend.returns) == ("generation", "extension")
    assert spec.audio is AudioSupport.NONE


def test_a_dream_machine_take_is_not_split(registry):
    """Segments after the first start from the last frame, which ray-2 cannot be given (an image
    only by a public URL: docs.lumalabs.ai/docs/video-generation), so the take stays whole and
    unroutable, refused before any spend; it was split and every later segment sent a data: URI."""
    result = plan_for(board([shot("a take", 20, model="luma/ray-2")]), registry, Mode.FINAL,
                      providers={"luma"})  # fmt: skip
    assert not result.ok
    assert result.long_shots == ()
    assert [s.id for _, s in result.board.shots()] == ["shot1"]
