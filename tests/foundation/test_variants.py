"""``output.variants``: resolved against the main size, refused at validation with path and reason."""

from __future__ import annotations

from typing import Any

import pytest

from foundation.storyboard import StoryboardError, parse_storyboard
from foundation.variants import resolve


def _board(size: str, variants: list[Any]) -> dict[str, Any]:
    shot = {"id": "a", "prompt": "a calm sea", "duration": 2}
    return {"title": "t", "output": {"size": size, "variants": variants},
            "scenes": [{"id": "s", "shots": [shot]}]}  # fmt: skip


def _problems(size: str, variants: list[Any]) -> list[str]:
    with pytest.raises(StoryboardError) as info:
        parse_storyboard(_board(size, variants))
    return [str(p) for p in info.value.problems]


class TestResolve:
    @pytest.mark.parametrize(
        ("text", "crop", "size", "label"),
        [
            ("9:16", (404, 720), (404, 720), "9x16"),
            ("1:1", (720, 720), (720, 720), "1x1"),
            ("4:5", (576, 720), (576, 720), "4x5"),
            ("21:9", (1280, 548), (1280, 548), "21x9"),
            ("1080x1920", (404, 720), (1080, 1920), "1080x1920"),
        ],
    )
    def test_largest_crop_of_the_main_frame(self, text, crop, size, label):
        variant = resolve(text, 1280, 720)
        assert (variant.crop_width, variant.crop_height) == crop
        assert (variant.width, variant.height) == size
        assert variant.label == label

    def test_the_board_lists_its_variants(self):
        board = parse_storyboard(_board("1280x720", ["9:16", "1:1"]))
        assert [v.label for v in board.output.variant_list()] == ["9x16", "1x1"]
        assert parse_storyboard(_board("1280x720", [])).output.variant_list() == []


class TestRefused:
    def test_main_aspect(self):
        assert _problems("1280x720", ["1:1", "16:9"]) == [
            "output.variants[1]: 16:9 is the main output's aspect (1280x720)"
        ]

    def test_side_under_the_minimum(self):
        (problem,) = _problems("160x90", ["1:4"])
        assert problem.startswith("output.variants[0]: 1:4 of a 160x90 output is a 22x90 crop")
        assert "at least 32 pixels" in problem

    def test_duplicates(self):
        (problem,) = _problems("1280x720", ["9:16", "1:1", "18:32"])
        assert problem == "output.variants[2]: 18:32 repeats 9:16 (both deliver 404x720)"

    @pytest.mark.parametrize("text", ["portrait", "9/16", "0:1", "1081x1920", "9:16:1"])
    def test_unreadable(self, text):
        (problem,) = _problems("1280x720", ["1:1", text])
        assert problem.startswith("output.variants[1]: ")

    def test_too_many(self):
        (problem,) = _problems("1280x720", ["1:1", "9:16", "4:5", "2:1", "3:1"])
        assert problem.startswith("output.variants: ")

    def test_every_problem_at_once(self):
        problems = _problems("1280x720", ["16:9", "1:1", "1:1"])
        assert [p.split(":")[0] for p in problems] == ["output.variants[0]", "output.variants[2]"]


class TestVariantObjects:
    """``{aspect, render, shots}``: how a variant's shots are made; the string form reframes."""

    def test_string_and_object_forms(self):
        variants = ["1:1", {"aspect": "9:16", "render": "auto", "shots": ["a"]}]
        board = parse_storyboard(_board("1280x720", variants))
        specs = board.output.variant_specs()
        assert [(s.aspect, s.render, s.shots) for s in specs] == [
            ("1:1", "reframe", None),
            ("9:16", "auto", ["a"]),
        ]
        assert [v.label for v in board.output.variant_list()] == ["1x1", "9x16"]
        dumped = board.model_dump(mode="json")["output"]["variants"]
        assert dumped[0] == "1:1"
        assert dumped[1]["render"] == "auto"

    def test_refused_with_their_paths(self):
        variants = [
            {"aspect": "9x", "render": "native"},
            {"aspect": "1:1", "render": "always"},
            {"aspect": "4:5", "shots": ["a", "zz"]},
            {"aspect": "16:9", "render": "native"},
        ]
        assert _problems("1280x720", variants) == [
            "output.variants[0].aspect: variant '9x' is not an aspect W:H (9:16) or a size WxH "
            "(1080x1920)",
            "output.variants[1].render: Input should be 'reframe', 'native' or 'auto'",
        ]
        assert _problems("1280x720", variants[2:]) == [
            "output.variants[1]: 16:9 is the main output's aspect (1280x720)",
            "output.variants[0].shots[1]: no shot has id 'zz'",
        ]
