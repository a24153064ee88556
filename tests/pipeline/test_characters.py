"""Issue 18's characters and style, declared once: validation with paths, one composed prompt for
routing, screening, the provider request and the shot cache."""

from __future__ import annotations

import pytest

from foundation.characters import compose_prompt
from foundation.storyboard import StoryboardError
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from tests.pipeline.conftest import shot, tiny_board

MARA = {"id": "mara", "description": "woman in her 30s, short silver hair, red raincoat"}
STYLE = "rain-soaked neon noir, teal and magenta"


def cast(description: str = MARA["description"]) -> dict[str, object]:
    return {"characters": [MARA | {"description": description}], "style": STYLE}


def test_the_prompt_carries_the_characters_and_the_style():
    assert compose_prompt("Mara steps off the ferry", [("mara", "silver hair")], "noir") == (
        "Mara steps off the ferry. mara: silver hair. Style: noir."
    )
    assert compose_prompt("A quiet dock", [], None) == "A quiet dock"


def test_every_problem_is_named_with_its_path():
    bad = {
        "characters": [MARA, MARA | {"description": "someone else"}],
        "scenes": [
            {
                "id": "s",
                "shots": [
                    shot("a", characters=["maria", "mara", "mara"], speaker="mara"),
                    shot("b", dialogue="We leave at dawn.", speaker="mara"),
                ],
            }
        ],
    }
    with pytest.raises(StoryboardError) as info:
        tiny_board(shot("x"), **bad)
    assert [(p.path, p.message) for p in info.value.problems] == [
        ("characters[1].id", "duplicate character 'mara' (characters[0])"),
        ("scenes[0].shots[0].characters[0]", "unknown character 'maria'; did you mean 'mara'?"),
        ("scenes[0].shots[0].characters[2]", "'mara' is listed twice"),
        ("scenes[0].shots[0].speaker", "a speaker needs a `dialogue` line"),
        ("scenes[0].shots[1].speaker", "'mara' speaks but is not among the shot's characters"),
    ]


@pytest.mark.parametrize(
    ("field", "value"), [("voice", "calm, low"), ("reference_images", ["m.png"])]
)
def test_what_no_stage_honours_yet_is_refused(field, value):
    with pytest.raises(StoryboardError) as info:
        tiny_board(shot("a"), characters=[MARA | {field: value}])
    (problem,) = info.value.problems
    assert problem.path == f"characters[0].{field}"
    assert "not used yet" in problem.message


def test_routing_request_and_cache_use_the_composed_prompt(ctx, tmp_path, scripted):
    adapter = scripted()
    board = tiny_board(shot("a", characters=["mara"]), shot("b"), **cast())
    first = create_job(ctx, board, output=tmp_path / "first.mp4")
    assert EmbeddedEngine(ctx).run(first) == "delivered"
    prompts = {r.shot_id: r.prompt for r in adapter.submitted}
    assert prompts["a"].endswith(f"mara: {MARA['description']}. Style: {STYLE}.")
    assert prompts["b"].endswith(f"Style: {STYLE}.")
    assert "mara:" not in prompts["b"]

    edited = tiny_board(
        shot("a", characters=["mara"]), shot("b"), **cast("woman in her 30s, a green coat")
    )
    second = create_job(ctx, edited, output=tmp_path / "second.mp4")
    assert EmbeddedEngine(ctx).run(second) == "delivered"
    again = [r.shot_id for r in adapter.submitted[2:]]
    assert again == ["a"]  # only the shot that features the edited character renders again
    assert adapter.submitted[2].prompt.endswith(
        f"mara: woman in her 30s, a green coat. Style: {STYLE}."
    )


def test_the_router_weighs_the_composed_prompt(ctx):
    from foundation.storyboard import Mode
    from pipeline.planning import route

    board = tiny_board(shot("a", characters=["mara"]), **cast())
    need = route(ctx, board, Mode.PREVIEW).decisions["a"].need
    assert need.prompt == board.prompt_for(board.scenes[0].shots[0])
    assert MARA["description"] in need.prompt
    assert need.prompt.endswith(f"Style: {STYLE}.")
