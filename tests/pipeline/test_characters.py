"""Issue 18's characters and style, declared once: validation with paths, one composed prompt for
routing, screening, the provider request and the shot cache."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from foundation.characters import compose_prompt
from foundation.errors import InvalidInputError
from foundation.storyboard import StoryboardError
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from tests.media.declared import png_declaring
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


def test_at_most_three_reference_images_a_character():
    with pytest.raises(StoryboardError) as info:
        tiny_board(shot("a"), characters=[MARA | {"reference_images": ["a", "b", "c", "d"]}])
    (problem,) = info.value.problems
    assert problem.path == "characters[0].reference_images"


def sheet(path: Path, colour: tuple[int, int, int]) -> str:
    image = np.zeros((120, 90, 3), np.uint8)
    image[:] = colour
    path.write_bytes(cv2.imencode(".png", image)[1].tobytes())
    return str(path)


def test_reference_images_reach_the_shots_featuring_the_character(ctx, tmp_path, scripted):
    """Each shot featuring Mara is sent her reference sheets (once each, in order); other shots
    none; changing a sheet renders again exactly the shots that feature her."""
    adapter = scripted()
    refs = [sheet(tmp_path / "front.png", (0, 0, 200)), sheet(tmp_path / "side.png", (0, 200, 0))]
    mara = MARA | {"reference_images": refs}
    board = tiny_board(shot("a", characters=["mara"]), shot("b"), characters=[mara])
    first = create_job(ctx, board, output=tmp_path / "first.mp4")
    assert EmbeddedEngine(ctx).run(first) == "delivered"
    sent = {r.shot_id: r.reference_images for r in adapter.submitted}
    assert sent == {"a": tuple(Path(r) for r in refs), "b": ()}
    sheet(tmp_path / "side.png", (200, 0, 0))  # a new side view of Mara
    again = create_job(ctx, board, output=tmp_path / "again.mp4")
    assert EmbeddedEngine(ctx).run(again) == "delivered"
    assert [r.shot_id for r in adapter.submitted[2:]] == ["a"]  # b came from the cache


def test_an_unreadable_reference_image_is_refused_before_any_spend(ctx, tmp_path, scripted):
    adapter = scripted()
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_declaring(32000, 32000))
    mara = MARA | {"reference_images": [str(tmp_path / "missing.png"), str(broken), str(bomb)]}
    board = tiny_board(shot("a", characters=["mara"]), characters=[mara])
    with pytest.raises(InvalidInputError) as info:
        create_job(ctx, board, output=tmp_path / "out.mp4")
    assert [p.path for p in info.value.problems] == [
        "characters[0].reference_images[0]",
        "characters[0].reference_images[1]",
        "characters[0].reference_images[2]",
    ]
    assert "does not exist" in info.value.problems[0].message
    assert "is not a readable image" in info.value.problems[1].message
    assert "declares 32000x32000 pixels" in info.value.problems[2].message
    assert adapter.submitted == []


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
