import json
import time
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from foundation.limits import MAX_DOCUMENT_BYTES, Limits
from foundation.settings import get_settings
from foundation.storyboard import (
    StoryboardError,
    Transition,
    load_storyboard,
    parse_storyboard,
    parse_storyboard_text,
)
from shotline.commands import models, plan

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

    def test_an_endless_file_is_refused_after_the_cap_not_read_until_memory_runs_out(self):
        with pytest.raises(StoryboardError, match="too large") as caught:
            load_storyboard(Path("/dev/zero"))
        [problem] = caught.value.problems
        assert f"larger than {MAX_DOCUMENT_BYTES:,} bytes" in problem.message

    def test_a_file_at_the_cap_is_read_and_validated(self, tmp_path):
        board = tmp_path / "padded.yaml"
        text = "title: t\nscenes: [{id: s, shots: [{id: a, prompt: p, duration: 1}]}]\n"
        board.write_text(text + "#" * (MAX_DOCUMENT_BYTES - len(text) - 1) + "\n")
        assert board.stat().st_size == MAX_DOCUMENT_BYTES
        assert [s.id for _, s in load_storyboard(board).shots()] == ["a"]
        with board.open("a") as more:
            more.write("#")
        with pytest.raises(StoryboardError, match="too large"):
            load_storyboard(board)

    def test_a_directory_or_a_file_not_utf8_cannot_be_read(self, tmp_path):
        """Each said so with Python's words: ``[Errno 21] Is a directory``, ``'utf-8' codec
        can't decode byte 0xe9 in position 9``."""
        with pytest.raises(StoryboardError, match="cannot be read") as folder:
            load_storyboard(tmp_path)
        assert folder.value.problems[0].message == (
            f"{tmp_path} is a folder: name a YAML or JSON file in it"
        )
        latin = tmp_path / "latin.yaml"
        latin.write_bytes("title: caf\xe9".encode("latin-1"))
        with pytest.raises(StoryboardError, match="cannot be read") as binary:
            load_storyboard(latin)
        assert binary.value.problems[0].message == (
            f"{latin} is not a text file (YAML or JSON): byte 10 is not UTF-8"
        )

    @pytest.mark.parametrize("text", ["", "# a comment only\n"])
    def test_an_empty_document_is_named_empty(self, tmp_path, text):
        """It was "top level must be a mapping"."""
        board = tmp_path / "empty.yaml"
        board.write_text(text)
        with pytest.raises(StoryboardError, match="is empty") as empty:
            load_storyboard(board)
        assert empty.value.problems[0].message == (
            "the document is empty: a storyboard has a title and scenes"
        )

    def test_missing_required(self):
        assert "scenes[0].shots[0].prompt: is required" in _problems(
            {"title": "t", "scenes": [{"id": "s", "shots": [{"id": "a", "duration": 1}]}]}
        )


# --- issue 15 (part C): hostile documents and values that can never render -------------------


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A few hundred bytes of YAML whose aliases expand to width**levels shots."""
    lines = ["title: bomb", "x0: &x0 [{id: a, prompt: p, duration: 1}]"]
    for level in range(1, levels):
        lines.append(f"x{level}: &x{level} [" + ", ".join([f"*x{level - 1}"] * width) + "]")
    lines.append(f"scenes: [{{id: s, shots: *x{levels - 1}}}]")
    return "\n".join(lines)


def _text_problems(text: str) -> list[str]:
    with pytest.raises(StoryboardError) as info:
        parse_storyboard_text(text)
    return [str(p) for p in info.value.problems]


class TestHostileDocuments:
    def test_alias_bomb_is_refused_while_composing(self):
        started = time.perf_counter()
        problems = _text_problems(alias_bomb())
        assert time.perf_counter() - started < 2.0
        assert len(problems) == 1
        assert "more than 100000 nodes (aliases count as the nodes they repeat)" in problems[0]

    def test_small_aliases_still_work(self):
        text = (
            "title: t\nshot: &shot {prompt: p, duration: 1}\n"
            "scenes: [{id: s, shots: [{<<: *shot, id: a}, {<<: *shot, id: b}]}]"
        )
        with pytest.raises(StoryboardError, match="invalid") as info:
            parse_storyboard_text(text)  # `shot` is not a storyboard key: the aliases did expand
        assert [str(p) for p in info.value.problems] == ["shot: unknown key"]

    @pytest.mark.parametrize(
        "text",
        [
            "title: t\nscenes: [{id: s, shots: [{id: a, prompt: p, duration: .nan}]}]",
            "title: t\nscenes: [{id: s, shots: [{id: a, prompt: p, duration: .inf}]}]",
        ],
    )
    def test_yaml_nan_and_inf_durations(self, text):
        assert _text_problems(text) == [
            "scenes[0].shots[0].duration: Input should be a finite number"
        ]

    @pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
    def test_json_nan_constants(self, constant):
        text = json.dumps(_board()).replace('"duration": 2', f'"duration": {constant}')
        assert _text_problems(text) == [
            f"{constant} is not a number JSON allows (use a finite number)"
        ]

    @pytest.mark.parametrize(
        "text",
        ["a: " + "[" * 50_000 + "]" * 50_000, '{"a": ' + "[" * 50_000 + "]" * 50_000 + "}"],
        ids=["yaml", "json"],
    )
    def test_deep_nesting(self, text):
        problems = _text_problems(text)
        assert len(problems) == 1
        # ours at 64 levels, or libyaml's own limit when its scanner reads ahead of the composer
        assert "nested deeper than 64 levels" in problems[0] or (
            "exceeded maximum nesting depth" in problems[0]
        )

    @pytest.mark.parametrize("json_text", [False, True])
    def test_five_thousand_digit_numbers(self, json_text):
        data = _board(duration=1)
        text = json.dumps(data) if json_text else yaml.safe_dump(data)
        problems = _text_problems(text.replace("duration: 1", "duration: " + "9" * 5000)
                                  .replace('"duration": 1', '"duration": ' + "9" * 5000))  # fmt: skip
        assert len(problems) == 1
        assert problems[0].startswith("a number of 5000 digits is too long (at most 40)")

    @pytest.mark.parametrize(
        ("text", "where"),
        [
            ("title: t\nscenes: [{id: s, shots: [{id: a, prompt: first, prompt: second, "
             "duration: 1}]}]", "(line 2, column 49)"),
            ('{"title": "t", "title": "u", "scenes": [{"id": "s", "shots": '
             '[{"id": "a", "prompt": "p", "duration": 1}]}]}', ""),
        ],
        ids=["yaml", "json"],
    )  # fmt: skip
    def test_a_key_written_twice_is_refused_not_dropped(self, text, where):
        """Both parsers kept the last of two equal keys: the first prompt was silently lost."""
        (problem,) = _text_problems(text)
        assert "duplicate key" in problem
        assert where in problem

    def test_a_merge_key_may_still_be_overridden(self):
        text = (
            "title: t\nbase: &base {prompt: p, duration: 1}\n"
            "scenes: [{id: s, shots: [{<<: *base, id: a, duration: 2}]}]"
        )
        with pytest.raises(StoryboardError) as info:
            parse_storyboard_text(text)
        assert [str(p) for p in info.value.problems] == ["base: unknown key"]

    @pytest.mark.parametrize("json_text", [False, True])
    def test_nul_characters_are_refused_with_their_paths(self, json_text):
        """PostgreSQL cannot store a NUL: the job's insert failed with a 500 after the plan."""
        data = _board(prompt="a calm\x00 sea") | {"title": "t\x00"}
        data["characters"] = [{"id": "mara", "description": "tall\x00"}]
        text = json.dumps(data) if json_text else yaml.safe_dump(data)
        assert "\x00" not in text  # escaped in the text, a NUL once parsed
        problems = _text_problems(text)
        reason = "contains a NUL character (U+0000), which cannot be stored"
        assert sorted(problems) == [
            f"characters[0].description: {reason}",
            f"scenes[0].shots[0].prompt: {reason}",
            f"title: {reason}",
        ]

    def test_crossfade_with_five_thousand_digits(self):
        data = _board()
        data["scenes"][0]["shots"].append(
            {"id": "b", "prompt": "p", "duration": 2, "transition": "crossfade:" + "9" * 5000}
        )
        (problem,) = _problems(data)
        assert problem.startswith("scenes[0].shots[1].transition: transition 'crossfade:9999")
        assert "must be cut, crossfade:SECONDS" in problem
        assert len(problem) < 300

    def test_transition_text_round_trips_without_exponent(self):
        assert str(Transition.parse("fade:0.000001")) == "fade:0.000001"
        assert Transition.parse(str(Transition.parse("crossfade:100.5"))).seconds == 100.5


def _output(**output) -> dict[str, Any]:
    board: dict[str, Any] = _board()
    return board | {"output": output}


class TestNeverRenders:
    @pytest.mark.parametrize("duration", [0.01, 0.2])
    def test_too_short_shot(self, duration):
        assert _problems(_board(duration=duration)) == [
            "scenes[0].shots[0].duration: must be at least 0.25 seconds (the shortest shot the "
            "quality gate and the stitcher can use)"
        ]

    def test_too_few_frames_at_a_low_rate(self):
        data = _output(fps=10) | {"scenes": [{"id": "s", "shots": [
            {"id": "a", "prompt": "p", "duration": 0.3}]}]}  # fmt: skip
        assert _problems(data) == [
            "scenes[0].shots[0].duration: 0.3s is 3 frames at 10 fps; a shot needs at least 6 frames"
        ]

    @pytest.mark.parametrize("lufs", [-9.99, -5, 0])
    def test_loudness_the_stitcher_cannot_reach(self, lufs):
        """-5 was accepted, and the delivery failed its loudness check (reached -7.8) after every
        shot was paid for; the limit is the stitcher's (``tests/stitching/test_loudness_cap.py``)."""
        (problem,) = _problems(_output(loudness_lufs=lufs))
        assert problem.startswith(
            "output.loudness_lufs: must be at most -10 LUFS: under the -1 dBTP"
        )

    @pytest.mark.parametrize("lufs", [-10, -16, -40])
    def test_loudness_in_reach(self, lufs):
        assert parse_storyboard(_output(loudness_lufs=lufs)).output.loudness_lufs == lufs

    @pytest.mark.parametrize("fps", [0.5, 0.0001, 9.99, 121])
    def test_fps_out_of_range(self, fps):
        (problem,) = _problems(_output(fps=fps))
        assert problem.startswith("output.fps: Input should be")

    @pytest.mark.parametrize(
        ("size", "why"),
        [
            ("99998x99998", "each side must be 32-7680 pixels"),
            ("3840x16", "each side must be 32-7680 pixels"),
            ("128x16", "each side must be 32-7680 pixels"),
            ("7680x7680", "is over 33177600 pixels (7680x4320)"),
            ("3840x320", "is more elongated than 8:1"),
            ("1281x720", "needs even sides"),
            ("8x8", "each side must be 32-7680 pixels"),  # was "is not WIDTHxHEIGHT"
            ("1x1", "needs even sides"),
        ],
    )
    def test_sizes_no_pipeline_can_render(self, size, why):
        assert _problems(_output(size=size)) == [f"output.size: size {size!r} {why}".replace(
            f"{size!r} each", f"{size!r}: each")]  # fmt: skip

    @pytest.mark.parametrize("size", ["7680x4320", "32x32", "256x32", "160x90", "1080x1920"])
    def test_sizes_at_the_limits_pass(self, size):
        assert parse_storyboard(_output(size=size)).output.size == size

    def test_first_shot_fade_longer_than_the_shot(self):
        data = _board(duration=3, transition="fade:4")
        data["scenes"][0]["shots"].append({"id": "b", "prompt": "p", "duration": 3})
        assert _problems(data) == [
            "scenes[0].shots[0].transition: fade:4 fade-in (96 frames) is not shorter than the "
            "shot (72 frames)"
        ]

    def test_crossfade_longer_than_a_neighbour(self):
        data = _board(duration=1)
        data["scenes"][0]["shots"].append(
            {"id": "b", "prompt": "p", "duration": 5, "transition": "crossfade:2"}
        )
        assert _problems(data) == [
            "scenes[0].shots[1].transition: crossfade:2 (48 frames) is longer than the previous "
            "shot (24 frames)"
        ]

    def test_transition_of_two_frames(self):
        data = _board(duration=1)
        data["scenes"][0]["shots"].append(
            {"id": "b", "prompt": "p", "duration": 1, "transition": "crossfade:0.1"}
        )
        assert _problems(data) == [
            "scenes[0].shots[1].transition: crossfade:0.1 is 2 frames; a transition needs at least 3"
        ]

    def test_transitions_in_and_out_must_fit_together(self):
        data = _board(duration=2, transition="fade:1.2")
        data["scenes"][0]["shots"].append(
            {"id": "b", "prompt": "p", "duration": 3, "transition": "crossfade:1"}
        )
        assert _problems(data) == [
            "scenes[0].shots[1].transition: crossfade:1 (24 frames) and the transition into the "
            "previous shot (29 frames) do not fit in its 48 frames"
        ]

    @pytest.mark.parametrize(
        "plan",
        [
            [(3, "fade:4"), (3, "cut")],
            [(2, "fade:1.2"), (3, "crossfade:1")],
            [(1, "cut"), (1, "crossfade:1")],
            [(2, "fade:0.5"), (1, "crossfade:0.5"), (2, "wipe:0.4")],
            [(1, "cut"), (2, "crossfade:0.9")],
            [(1, "cut"), (1, "crossfade:0.05")],
            [(1, "fade:0.08"), (1, "cut")],
        ],
    )
    def test_validation_refuses_what_the_stitcher_refuses(self, plan):
        """The storyboard refuses every timeline ``plan_edit`` refuses (the same rule)."""
        from stitching import OutputProfile, PlanError, plan_edit
        from tests.stitching.test_profile_plan import fake_segment

        profile = OutputProfile(320, 180, 24)
        shots = [{"id": f"s{i}", "prompt": "p", "duration": d, "transition": t}
                 for i, (d, t) in enumerate(plan)]  # fmt: skip
        items = [(s["id"], fake_segment(profile.frames_for(s["duration"]), profile=profile),
                  Transition.parse(s["transition"])) for s in shots]  # fmt: skip
        try:
            plan_edit(items, profile)
            stitcher_refuses = False
        except PlanError:
            stitcher_refuses = True
        data = {"title": "t", "scenes": [{"id": "s", "shots": shots}]}
        try:
            parse_storyboard(data)
            validation_refuses = False
        except StoryboardError:
            validation_refuses = True
        assert validation_refuses or not stitcher_refuses


class TestCaps:
    def _many(self, shots: int, duration: float = 1) -> dict[str, Any]:
        return {"title": "t", "scenes": [{"id": "s", "shots": [
            {"id": f"s{i}", "prompt": "p", "duration": duration} for i in range(shots)]}]}  # fmt: skip

    def test_shot_cap_is_checked_before_validating_every_shot(self):
        board = self._many(10_000)
        for spec in board["scenes"][0]["shots"]:
            spec["duration"] = 0  # invalid: a validated shot would be reported
        assert _problems(board) == [
            "scenes: 10000 shots, more than the limit of 200 (SHOTLINE_MAX_SHOTS)"
        ]
        assert len(parse_storyboard(self._many(200)).shots()) == 200

    def test_total_duration_cap(self):
        assert _problems(self._many(16, duration=120)) == [
            "scenes: the shots last 1920s in all, more than the limit of 1800s "
            "(SHOTLINE_MAX_TOTAL_DURATION_S)"
        ]

    def test_caps_come_from_the_settings(self, monkeypatch):
        monkeypatch.setenv("SHOTLINE_MAX_SHOTS", "3")
        monkeypatch.setenv("SHOTLINE_MAX_TOTAL_DURATION_S", "2.5")
        get_settings.cache_clear()
        try:
            assert Limits.from_settings() == Limits(max_shots=3, max_total_duration_s=2.5)
            assert "more than the limit of 3" in _problems(self._many(4))[0]
            assert "more than the limit of 2.5s" in _problems(self._many(3))[0]
        finally:
            get_settings.cache_clear()

    def test_cli_exits_2_on_a_bomb_and_on_a_cap(self, tmp_path):
        app = typer.Typer()
        for command in (models, plan):
            command.register(app)
        bomb, big = tmp_path / "bomb.yaml", tmp_path / "big.yaml"
        bomb.write_text(alias_bomb())
        big.write_text(yaml.safe_dump(self._many(201)))
        for path, reason in ((bomb, "aliases count"), (big, "SHOTLINE_MAX_SHOTS")):
            done = CliRunner().invoke(app, ["plan", str(path)], env={"COLUMNS": "200"})
            assert done.exit_code == 2, done.output
            assert reason in done.output
