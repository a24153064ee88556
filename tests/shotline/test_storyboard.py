from pathlib import Path

import pytest

from shotline.storyboard import (
    StoryboardError,
    load_storyboard,
    parse_storyboard,
    parse_storyboard_text,
)

EXAMPLES = Path(__file__).parents[2] / "examples"


def _board(**shot_overrides):
    shot = {"id": "a", "prompt": "a calm sea", "duration": 2} | shot_overrides
    return {"title": "t", "scenes": [{"id": "s", "shots": [shot]}]}


def _problems(data) -> list[str]:
    with pytest.raises(StoryboardError) as info:
        parse_storyboard(data)
    return [str(p) for p in info.value.problems]


class TestValidStoryboards:
    def test_examples_load(self):
        teaser = load_storyboard(EXAMPLES / "teaser.yaml")
        assert len(teaser.shots()) >= 6
        assert len(teaser.scenes) >= 2
        assert {s.audio for _, s in teaser.shots()} >= {"none", "ambient", "dialogue"}
        assert any(s.transition_in.kind == "crossfade" for _, s in teaser.shots())
        assert len(load_storyboard(EXAMPLES / "one-shot.yaml").shots()) == 1

    def test_defaults(self):
        board = parse_storyboard(_board())
        assert (board.output.width, board.output.height, board.output.fps) == (1280, 720, 24)
        assert board.output.loudness_lufs == -16
        assert board.mode == "preview"

    def test_planned_seconds_subtracts_overlaps(self):
        data = _board()
        data["scenes"][0]["shots"].append(
            {"id": "b", "prompt": "x", "duration": 3, "transition": "crossfade:0.5"}
        )
        assert parse_storyboard(data).planned_seconds() == pytest.approx(4.5)

    def test_json_text(self):
        board = parse_storyboard_text(
            '{"title": "t", "scenes": [{"id": "s", "shots": '
            '[{"id": "a", "prompt": "p", "duration": 1}]}]}'
        )
        assert board.shots()[0][1].id == "a"


class TestBadStoryboards:
    def test_non_positive_duration(self):
        assert _problems(_board(duration=0)) == ["scenes[0].shots[0].duration: must be > 0"]

    def test_empty_prompt(self):
        assert _problems(_board(prompt="   ")) == ["scenes[0].shots[0].prompt: must not be empty"]

    def test_unknown_key_suggests_closest(self):
        problems = _problems(_board(duraton=2))
        assert "scenes[0].shots[0].duraton: unknown key; did you mean 'duration'?" in problems

    def test_unknown_top_level_key(self):
        data = _board() | {"titel": "x"}
        assert "titel: unknown key; did you mean 'title'?" in _problems(data)

    def test_duplicate_ids(self):
        data = _board()
        data["scenes"].append({"id": "s2", "shots": [{"id": "a", "prompt": "p", "duration": 1}]})
        assert _problems(data) == [
            "scenes[1].shots[0].id: duplicate shot id 'a' (also at scenes[0].shots[0])"
        ]

    def test_unparsable_size(self):
        data = _board() | {"output": {"size": "big"}}
        assert _problems(data) == ["output.size: size 'big' is not WIDTHxHEIGHT, e.g. 1280x720"]

    def test_every_problem_reported_at_once(self):
        data = _board(duration=-1, prompt="")
        data["output"] = {"size": "12x"}
        assert len(_problems(data)) == 3

    def test_bad_transition(self):
        problems = _problems(_board(transition="dissolve"))
        assert problems[0].startswith("scenes[0].shots[0].transition:")

    def test_first_shot_cannot_crossfade(self):
        problems = _problems(_board(transition="crossfade:0.5"))
        assert problems == ["scenes[0].shots[0].transition: the first shot can only cut or fade in"]

    def test_broken_yaml(self):
        with pytest.raises(StoryboardError, match="not valid YAML"):
            parse_storyboard_text("title: [unclosed")

    def test_missing_file(self, tmp_path):
        with pytest.raises(StoryboardError, match="no such file"):
            load_storyboard(tmp_path / "nope.yaml")

    def test_missing_required(self):
        assert "scenes[0].shots[0].prompt: is required" in _problems(
            {"title": "t", "scenes": [{"id": "s", "shots": [{"id": "a", "duration": 1}]}]}
        )
