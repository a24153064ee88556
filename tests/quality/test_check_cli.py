"""``shotline check``: exit codes and JSON output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from shotline.commands import check


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    application = typer.Typer()
    check.register(application)

    @application.command()
    def other() -> None:  # a second command keeps typer in multi-command mode, as in the real CLI
        pass

    return application


def test_accept_exits_zero_with_json(app: typer.Typer, corpus_clip: Callable[[str], Path]) -> None:
    result = CliRunner().invoke(
        app,
        [
            "check",
            str(corpus_clip("clean")),
            "--duration",
            "2",
            "--size",
            "320x180",
            "--fps",
            "24",
            "--audio",
            "required",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["action"] == "accept"
    assert payload["findings"] == []


def test_repair_exits_zero(app: typer.Typer, corpus_clip: Callable[[str], Path]) -> None:
    result = CliRunner().invoke(
        app, ["check", str(corpus_clip("black_head_0.25")), "--duration", "1.5"]
    )
    assert result.exit_code == 0, result.output
    assert "repair" in result.stdout
    assert "black_head" in result.stdout


def test_defect_exits_one(app: typer.Typer, corpus_clip: Callable[[str], Path]) -> None:
    result = CliRunner().invoke(app, ["check", str(corpus_clip("black_middle_0.5")), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["drivers"][0]["code"] == "black_middle"


@pytest.mark.parametrize(
    "args",
    [["--audio", "maybe"], ["--size", "320by180"], ["--duration", "-1"], ["--fps", "0"]],
)
def test_unusable_arguments_exit_two(
    app: typer.Typer, corpus_clip: Callable[[str], Path], args: list[str]
) -> None:
    result = CliRunner().invoke(app, ["check", str(corpus_clip("clean")), *args])
    assert result.exit_code == 2


def test_missing_file_exits_two(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["check", str(tmp_path / "none.mp4"), "--json"])
    assert result.exit_code == 2
    assert "is not a file" in result.stdout
