"""``shotline check``: exit codes and JSON output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from shotline.commands import check
from tests.media.oversized import REFUSAL, spy_full_probe, write_over_8k


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


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (
            ["--tier", "premum"],
            "--tier: 'premum' is not a tier of the policy (draft, still, standard, premium)",
        ),
        (["--policy", "nope.yaml"], "--policy: [Errno 2] No such file or directory: 'nope.yaml'"),
    ],
)
def test_a_tier_or_policy_the_gate_cannot_use_exits_two(
    app: typer.Typer, corpus_clip: Callable[[str], Path], args: list[str], why: str
) -> None:
    """An unknown tier was a note and the default tier's verdict (exit 0); an unreadable policy
    exited 1, a rejected clip's code."""
    result = CliRunner().invoke(app, ["check", str(corpus_clip("clean")), *args, "--json"])
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["problems"] == [why]


def test_the_mark_on_the_findings_behind_the_verdict_is_explained(
    app: typer.Typer, corpus_clip: Callable[[str], Path]
) -> None:
    clip = corpus_clip("black_middle_0.5")
    result = CliRunner().invoke(app, ["check", str(clip)], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "black_middle *" in result.output
    assert "* the findings behind the verdict" in result.output


def test_missing_file_exits_two(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["check", str(tmp_path / "none.mp4"), "--json"])
    assert result.exit_code == 2
    assert "none.mp4 does not exist" in result.stdout


def test_a_clip_declaring_more_pixels_than_any_output_is_refused_undecoded(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its expectation was measured with the full probe, which decodes the first frame (a 1.5 MB
    MJPEG declaring 16000x16000 cost 442 MB), before the gate refused it from its header."""
    clip = write_over_8k(tmp_path / "over-8k.mp4")
    decoded = spy_full_probe(monkeypatch, "media.probe.probe")
    result = CliRunner().invoke(app, ["check", str(clip), "--json"])
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert payload["action"] == "retry"
    assert [f["message"] for f in payload["findings"]] == [f"file cannot be decoded: {REFUSAL}"]
    assert decoded == []


def test_an_empty_file_is_named_empty(app: typer.Typer, tmp_path: Path) -> None:
    clip = tmp_path / "empty.mp4"
    clip.touch()
    result = CliRunner().invoke(app, ["check", str(clip), "--json"])
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    messages = [f["message"] for f in payload["findings"]]
    assert messages == ["file cannot be decoded: it is empty (0 bytes)"]
