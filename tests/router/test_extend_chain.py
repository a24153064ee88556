"""Issue 18's long shots by the provider's own extend operation (Vertex Veo 3.1: +7 s a call, up
to 37 s): planned as a render, extensions of it, then continuing segments for the rest; refused
before any spend where it cannot be honoured."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.storyboard import Mode, StoryboardError, frame_problems, parse_storyboard
from registry import RegistryFileError, load_registry
from router import Plan
from router._extend_chain import extension_parts
from tests.router.conftest import HOSTED, board, plan_for, shot

FAST = "google/veo-3.1-fast"


def parts(result: Plan) -> list[tuple[str, str, float]]:
    (split,) = result.long_shots
    return split.parts


def test_a_take_veo_extends_whole_is_a_render_and_extensions(registry):
    b = board([shot("a kite over the beach", 22, model=FAST, dialogue="Look up.")])
    result = plan_for(b, registry, Mode.FINAL, providers={"google"})
    assert result.ok
    assert parts(result) == [("shot1.part1", "render", 8.0), ("shot1.part2", "extend", 7.0),
                             ("shot1.part3", "extend", 7.0)]  # fmt: skip
    shots = [s for _, s in result.board.shots()]
    assert [(s.model, s.continues, s.extends) for s in shots] == [
        (FAST, False, False), (FAST, True, True), (FAST, True, True)]  # fmt: skip
    assert shots[0].dialogue == "Look up."
    assert shots[1].dialogue is None
    ext = result.decisions["shot1.part2"]
    assert ext.primary is not None
    assert (ext.primary.model_id, ext.primary.duration_s, ext.primary.resolution) == (
        FAST, 7.0, "720p")  # fmt: skip
    assert ext.primary.quote_usd == pytest.approx(registry.get(FAST).quote(7, "720p", True))
    assert [c.model_id for c in ext.candidates] == [FAST]  # the operation is that model's own
    assert not frame_problems(result.board)
    assert parse_storyboard(result.board.model_dump(mode="json")) == result.board  # valid
    split = result.to_dict()["long_shots"][0]
    assert split["operations"] == ["render", "extend", "extend"]
    assert split["model"] == FAST
    assert "extends it 2 time(s) by 7s with its own extend operation" in split["why"]


def test_beyond_the_providers_maximum_the_rest_continues_from_the_last_frame(registry):
    """A 60 s take: 8 s + 4 x 7 s = 36 s within Veo's 37 s, then segments for the other 24 s."""
    result = plan_for(board([shot("one long take", 60, model=FAST)]), registry, Mode.FINAL,
                      providers={"google"})  # fmt: skip
    assert result.ok
    ops = [op for _, op, _ in parts(result)]
    seconds = [s for _, _, s in parts(result)]
    assert ops == ["render", *["extend"] * 4, *["continue"] * 3]
    assert seconds == [8.0, 7.0, 7.0, 7.0, 7.0, 8.0, 8.0, 8.0]
    extend = registry.get(FAST).extend
    assert extend is not None
    assert sum(seconds[:5]) <= extend.max_total_s
    tail = [s for _, s in result.board.shots()][5:]
    assert all(s.continues and not s.extends for s in tail)


def test_the_split_is_a_pure_function_of_the_storyboard_and_models(registry):
    b = board([shot("one long take", 29, model=FAST)])
    first = plan_for(b, registry, Mode.FINAL, providers={"google"})
    again = plan_for(b, registry, Mode.FINAL, providers={"google"})
    assert first.long_shots == again.long_shots
    assert first.board == again.board


def test_without_an_extend_capable_model_the_take_is_split_into_segments(registry):
    """Veo 3.1 Lite has no ``extend`` in the registry (preview on Vertex)."""
    lite = "google/veo-3.1-lite"
    result = plan_for(board([shot("one long take", 15, model=lite)]), registry, Mode.FINAL,
                      providers={"google"})  # fmt: skip
    assert [op for _, op, _ in parts(result)] == ["render", "continue"]
    assert not any(s.extends for _, s in result.board.shots())


def test_no_extension_when_its_length_cannot_add_up_exactly(registry):
    """10 s: 8 + 7 overshoots and no 3 s part renders exactly; segments instead (no padding)."""
    result = plan_for(board([shot("a take", 10, model=FAST)]), registry, Mode.FINAL,
                      providers={"google"})  # fmt: skip
    assert [op for _, op, _ in parts(result)] == ["render", "continue"]


def test_extension_only_at_the_resolutions_the_operation_offers(registry):
    """The operation is routed at 720p only; a 1080p board is split into segments."""
    b = board([shot("a take", 15, model=FAST)], output={"size": "1920x1080"})
    result = plan_for(b, registry, Mode.FINAL, providers={"google"})
    assert "extend" not in [op for _, op, _ in parts(result)]


def test_extension_parts_fewest_first_and_within_the_maximum(registry):
    spec = registry.get(FAST)
    options = list(extension_parts(15, spec))
    assert options[0] == (((("render", 8.0), ("extend", 7.0))), 0.0)
    assert all(sum(s for _, s in p) <= 37 for p, _ in extension_parts(100, spec))


def refusals(*shots: dict) -> list[str]:  # type: ignore[type-arg]
    with pytest.raises(StoryboardError) as info:
        board(list(shots))
    return [str(p) for p in info.value.problems]


def test_a_written_extension_of_another_model_is_refused_with_its_path():
    problems = refusals(shot("a", 8, model=FAST),
                        shot("b", 7, model="google/veo-3.1", continues=True, extends=True))  # fmt: skip
    assert any("scenes[0].shots[1].extends" in p and "pin one model" in p for p in problems)


def test_an_extension_without_continues_is_refused():
    problems = refusals(shot("a", 8, model=FAST), shot("b", 7, model=FAST, extends=True))
    assert any("scenes[0].shots[1].extends" in p and "continues" in p for p in problems)


def test_a_model_without_the_operation_cannot_take_an_extension(registry):
    lite = "google/veo-3.1-lite"
    b = board([shot("a", 8, model=lite), shot("b", 7, model=lite, continues=True, extends=True)])
    result = plan_for(b, registry, Mode.FINAL, providers={"google"})
    (refused,) = result.unroutable
    assert refused.path == "scenes[0].shots[1]"
    assert any("has no extend operation" in r for r in refused.reasons[lite])


def test_the_long_take_example_uses_extensions_where_veo_is_enabled(registry):
    from foundation.storyboard import load_storyboard

    example = Path(__file__).parents[2] / "examples" / "long-take.yaml"
    result = plan_for(load_storyboard(example), registry, Mode.FINAL, providers=HOSTED)
    assert result.ok
    (split,) = result.long_shots
    assert sum(split.seconds) == 40
    assert split.operations == ("render", "extend", "extend", "extend", "extend", "continue")


def test_the_registry_validates_the_extend_capability(tmp_path):
    path = tmp_path / "user.yaml"
    path.write_text(
        "models:\n  - id: google/veo-3.1-fast\n    extend: {seconds: 7, max_input_s: 30,"
        " max_total_s: 5, resolutions: [4k], source: x}\n"
    )
    with pytest.raises(RegistryFileError) as info:
        load_registry(path)
    assert any("extend" in str(p) for p in info.value.problems)
    path.write_text("models:\n  - id: google/veo-3.1-fast\n    extend: {seconds: 0}\n")
    with pytest.raises(RegistryFileError):
        load_registry(path)
    path.write_text(
        "models:\n  - id: kling/v3-pro\n    extend: {seconds: 5, max_input_s: 30,"
        " max_total_s: 60, resolutions: [1080p], source: x}\n"
    )
    with pytest.raises(RegistryFileError) as info:
        load_registry(path)
    assert any("the kling adapter sends no extend request" in str(p) for p in info.value.problems)


def test_a_chains_parts_render_one_after_another_in_the_forecast(registry):
    result = plan_for(board([shot("one long take", 22, model=FAST)]), registry, Mode.FINAL,
                      providers={"google"})  # fmt: skip
    lines = result.forecast.shots
    assert len(lines) == 3
    assert result.forecast.wall_time_s == pytest.approx(sum(s.expected_render_s for s in lines))
    assert result.forecast.wall_time_high_s == pytest.approx(sum(s.high_render_s for s in lines))
