"""``COMMAND --help`` reads as the README writes the commands: no Python types for the options a
user types ids or aspects into, and nothing silent where there is nothing to list."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from shotline.cli import app


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["commit", "-h"], ["--shots IDS", "--reject IDS"]),
        (["stitch", "-h"], ["[CLIP]...", "--variant W:H|WxH"]),
        (["draft", "-h"], ["SHOTLINE_GEMINI_API_KEY"]),
        (["check", "-h"], ["2 bad arguments"]),
    ],
)
def test_help_names_what_to_type(argv: list[str], shown: list[str]) -> None:
    result = CliRunner().invoke(app, argv, terminal_width=100)
    assert result.exit_code == 0
    words = " ".join(result.output.split())
    for text in shown:
        assert text in words
    assert "<list[str]>" not in words
    assert "_GEMINI_)" not in words


def test_unknowns_says_when_none_waits(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["unknowns"], env={"SHOTLINE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0
    assert "no attempt waits for `shotline resolve`" in result.output


def test_an_error_without_problems_is_said_once(tmp_path: Path) -> None:
    board = tmp_path / "b.yaml"
    board.write_text("title: t\nscenes: [{id: s, shots: [{id: a, prompt: p, duration: 2}]}]\n")
    result = CliRunner().invoke(app, ["plan", str(board), "--providers", "foo"])
    assert result.exit_code == 2
    assert result.output.count("'foo' is not one of") == 1


ALL_PROVIDERS = "'local', 'emulated', 'live', 'auto'"


@pytest.mark.parametrize(
    ("argv", "choices"),
    [
        (["render", "b.yaml", "-o", "out.mp4"], ALL_PROVIDERS),
        (["plan", "b.yaml"], ALL_PROVIDERS),
        (["commit", "abc"], ALL_PROVIDERS),
        (["serve"], ALL_PROVIDERS),
        (["doctor"], ALL_PROVIDERS),
        (["draft", "a brief", "-o", "b.yaml"], "'emulated', 'auto', 'live'"),
    ],
)
def test_every_command_refuses_an_unknown_providers_choice_alike(
    argv: list[str], choices: str
) -> None:
    """One declaration of ``--providers`` (``shotline.options``): the same refusal, exit 2,
    before the command reads a file or starts anything."""
    result = CliRunner().invoke(app, [*argv, "--providers", "cloud"], terminal_width=200)
    assert result.exit_code == 2, result.output
    words = " ".join(result.output.split())
    assert (
        f"Invalid value for '--providers': Value error, 'cloud' is not one of {choices}." in words
    )


def test_unknowns_of_a_job_that_is_not_there_says_so(tmp_path: Path) -> None:
    """It said "no attempt waits" and exited 0 for any id."""
    env = {"SHOTLINE_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["unknowns", "--job", "zzz"], env=env)
    assert result.exit_code == 1, result.output
    assert "no job zzz (shotline jobs list shows the jobs)" in result.output
