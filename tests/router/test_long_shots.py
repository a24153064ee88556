"""Issue 18's long shots: a shot longer than any enabled model renders is planned as segments that
continue from each other, not refused and not given to the animatic."""

from __future__ import annotations

import pytest

import router
from foundation.storyboard import Mode, Storyboard, frame_problems
from tests.router.conftest import ALL, HOSTED, board, plan_for, shot


def test_a_take_longer_than_every_model_is_split_into_continuing_segments(registry):
    b = board(
        [
            shot(duration=4),
            shot("a long take", 14, transition="crossfade:0.5", dialogue="We leave at dawn."),
            shot(duration=4, transition="fade:0.5"),
        ]
    )
    result = plan_for(b, registry, Mode.FINAL, providers={"google"})
    assert result.ok
    (split,) = result.long_shots
    assert split.shot_id == "shot2"
    assert split.segment_ids == ("shot2.part1", "shot2.part2")
    assert split.seconds == (8.0, 6.0)  # Veo's longest clip, then the rest
    assert split.explain().startswith("no model that can take it renders 14s in one clip: 2 ")
    assert list(result.decisions) == ["shot1", "shot2.part1", "shot2.part2", "shot3"]
    first, second = (s for _, s in result.board.shots() if s.id.startswith("shot2"))
    assert (first.transition, first.dialogue, first.continues) == (
        "crossfade:0.5",
        "We leave at dawn.",
        False,
    )
    assert (second.transition, second.dialogue, second.continues) == ("cut", None, True)
    assert sum(s.duration for _, s in result.board.shots()) == sum(s.duration for _, s in b.shots())
    assert result.decisions["shot2.part2"].need.has_image  # starts from the last frame
    assert not frame_problems(result.board)
    assert result.to_dict()["long_shots"][0]["segments"] == ["shot2.part1", "shot2.part2"]


def test_a_shot_a_model_takes_whole_is_not_split(registry):
    result = plan_for(board([shot(duration=8)]), registry, Mode.FINAL, providers={"google"})
    assert result.long_shots == ()
    assert result.board.shots()[0][1].id == "shot1"


@pytest.mark.parametrize(("mode", "providers"), [(Mode.PREVIEW, ALL), (Mode.FINAL, {"local"})])
def test_the_local_renderer_takes_any_length_whole(registry, mode, providers):
    result = plan_for(board([shot("a long take", 60)]), registry, mode, providers=providers)
    assert result.long_shots == ()
    primary = result.decisions["shot1"].primary
    assert primary is not None
    assert primary.model_id == "local/animatic"


@pytest.mark.parametrize("taken", ["shot1.part1", "shot1.part2"])
def test_no_split_when_a_segment_name_is_taken(registry, taken):
    b = board([shot("a long take", 14), shot(duration=4)])
    data = b.model_dump(mode="json")
    data["scenes"][0]["shots"][1]["id"] = taken
    from foundation.storyboard import parse_storyboard

    result = plan_for(parse_storyboard(data), registry, Mode.FINAL, providers={"google"})
    assert result.long_shots == ()
    assert [u.shot_id for u in result.unroutable] == ["shot1"]


def test_a_split_boards_parts_are_named_by_the_shot_the_user_wrote(registry):
    result = plan_for(board([shot("a long take", 14), shot(duration=4)]), registry,
                      Mode.FINAL, providers={"google"})  # fmt: skip
    shots = [spec for scene in result.board.model_dump(mode="json")["scenes"]
             for spec in scene["shots"]]  # fmt: skip
    assert router.stored_parts(shots, "shot1") == ["shot1.part1", "shot1.part2"]
    assert router.stored_parts(shots, "shot2") == []  # the board holds it whole
    assert router.stored_parts(shots, "shot3") == []


@pytest.mark.parametrize(
    ("second", "why"),
    [({"continues": False}, "does not continue the first"),
     ({"continues": True, "prompt": "another take"}, "has a prompt of its own")],
)  # fmt: skip
def test_shots_the_user_named_like_parts_are_not_parts(registry, second, why):
    """A storyboard's own ``x.part1`` and ``x.part2`` are two shots, not the parts of an ``x``
    it never wrote: a re-render of ``x`` answered with both of them re-rendered."""
    written = board([shot("a long take", 4), shot("a long take", 4) | second])
    data = written.model_dump(mode="json")
    shots = data["scenes"][0]["shots"]
    shots[0]["id"], shots[1]["id"] = "x.part1", "x.part2"
    assert router.stored_parts(shots, "x") == [], why
    shots[1] |= {"continues": True, "prompt": shots[0]["prompt"]}
    assert router.stored_parts(shots, "x") == ["x.part1", "x.part2"], "as a split writes them"


def test_no_split_when_no_segment_can_be_rendered(registry):
    """Retired models only: splitting cannot help, so the shot is reported with its reasons."""
    result = plan_for(board([shot("a long take", 40)]), registry, Mode.FINAL, providers={"openai"})
    assert result.long_shots == ()
    assert [u.shot_id for u in result.unroutable] == ["shot1"]


def test_the_long_take_example_is_planned_in_segments(registry):
    from pathlib import Path

    from foundation.storyboard import load_storyboard

    example = Path(__file__).parents[2] / "examples" / "long-take.yaml"
    result = plan_for(load_storyboard(example), registry, Mode.FINAL, providers=HOSTED)
    assert result.ok
    (split,) = result.long_shots
    assert split.shot_id == "take"
    assert sum(split.seconds) == 40
    assert len(split.segment_ids) >= 3


def test_the_shots_after_a_split_keep_the_paths_the_user_wrote(registry):
    b = board([shot("a long take", 14), shot("a pinned close-up", 4, model="kling/v9")])
    result = plan_for(b, registry, Mode.FINAL, providers={"google"})
    assert result.decisions["shot1.part2"].path == "scenes[0].shots[0]"
    assert [(u.shot_id, u.path) for u in result.unroutable] == [("shot2", "scenes[0].shots[1]")]


def test_the_parts_after_the_line_are_valid_shots_with_ambient_sound(registry):
    """A 14 s dialogue shot's second part kept ``audio: dialogue`` without the line: the stored
    board failed validation when a step read it, and the job crashed after its first parts were
    paid for (found by ``benchmarks/explore_boards.py``, seed 8404)."""
    b = board([shot("a long take", 14, audio="dialogue", dialogue="We leave at dawn.")])
    result = plan_for(b, registry, Mode.FINAL, providers={"google"})
    first, second = (s for _, s in result.board.shots())
    assert (first.audio, first.dialogue) == ("dialogue", "We leave at dawn.")
    assert (second.audio, second.dialogue) == ("ambient", None)
    Storyboard.model_validate(result.board.model_dump(mode="json"))  # as a step reads it


@pytest.mark.parametrize("providers", [{"google"}, {"luma"}])
def test_only_the_first_part_of_a_keyframed_shot_draws_its_keyframe(registry, providers):
    """The parts after the first continue from the part before them: a part that kept
    ``keyframe: generate`` was sent the shot's keyframe as its first frame (seen on a 20 s shot
    rendered as ``luma/ray-3.2`` and two extensions: each part's request carried a keyframe)."""
    from pipeline.keyframes import keyframes_of

    b = board([shot("a long take", 20, keyframe="generate")])
    result = plan_for(b, registry, Mode.FINAL, providers=providers)
    first, *later = (s for _, s in result.board.shots())
    assert later, "the shot is split"
    assert [k.shot_id for k in keyframes_of(result.board)] == [first.id]
    assert all(part.continues and not part.draws_keyframe for part in later)
    Storyboard.model_validate(result.board.model_dump(mode="json"))  # as a step reads it
