"""``shotline serve --providers emulated``: jobs go to the emulator at SHOTLINE_EMULATOR_URL when set
(none is started), else to one started in this process with ``--scenario``; what cannot work
together is refused before anything starts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import emulators
from api import auth
from api.app import create_app
from emulators import EmulatorHandle, Scenario, start_emulator
from foundation.errors import InvalidInputError
from foundation.settings import get_settings
from pipeline.context import RunContext
from pipeline.runner import JobRunner
from shotline.cli import app as cli
from shotline.commands.serve import build_server
from tests import web
from tests.api.conftest import tiny_board, wait_for_job

FAULTY = """\
seed: 3
defaults:
  faults:
    - {kind: rate_limit, calls: [1], retry_after_s: 0.1}
"""


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOTLINE_POLL_INTERVAL_S", "0.05")
    get_settings.cache_clear()


@pytest.fixture
def external() -> Iterator[EmulatorHandle]:
    """An emulator running apart from the server under test, like a ``shotline emulate``."""
    with start_emulator(Scenario(seed=1)) as handle:
        yield handle


def _no_second_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("serve started an emulator of its own")

    monkeypatch.setattr(emulators, "start_emulator", never)


def _run_job(ctx: RunContext, runner: JobRunner) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {auth.create_key(ctx.db_url, 'acme')}"}
    with TestClient(create_app(ctx, runner)) as client:
        created = client.post("/v1/jobs", json={"storyboard": tiny_board(1)}, headers=headers)
        assert created.status_code == 202, created.text
        return wait_for_job(client, created.json()["id"], headers)


def _root(ctx: RunContext) -> str:
    return ctx.base_urls["runway"].removesuffix("/runway")


def test_jobs_go_to_the_emulator_at_the_url(monkeypatch, external):
    monkeypatch.setenv("SHOTLINE_EMULATOR_URL", external.base_url + "/")
    get_settings.cache_clear()
    _no_second_emulator(monkeypatch)
    with ExitStack() as stack:
        ctx, runner = build_server("emulated", None, stack)
        assert ctx.base_urls["runway"] == f"{external.base_url}/runway"
        assert ctx.judge_base_urls["gemini"] == f"{external.base_url}/google/v1beta"
        job = _run_job(ctx, runner)
    assert job["status"] == "delivered", job["error"]
    assert sum(external.stats()["creates"].values()) >= 1, external.stats()


def test_scenario_is_given_to_the_emulator_started_here(monkeypatch, tmp_path):
    monkeypatch.delenv("SHOTLINE_EMULATOR_URL", raising=False)
    get_settings.cache_clear()
    scenario = tmp_path / "faulty.yaml"
    scenario.write_text(FAULTY)
    with ExitStack() as stack:
        ctx, runner = build_server("emulated", scenario, stack)
        job = _run_job(ctx, runner)
        stats = web.get(f"{_root(ctx)}/_emulator/stats").json()
    assert job["status"] == "delivered", job["error"]
    assert [kind.split(":")[-1] for kind in stats["faults"]] == ["rate_limit"], stats
    assert sum(stats["faults"].values()) == 1, stats
    with pytest.raises(httpx.ConnectError):
        web.get(f"{_root(ctx)}/_emulator/stats", timeout=2)  # stopped with the server


def test_a_scenario_for_the_emulator_at_the_url_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("SHOTLINE_EMULATOR_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    _no_second_emulator(monkeypatch)
    with ExitStack() as stack, pytest.raises(InvalidInputError) as caught:
        build_server("emulated", tmp_path / "s.yaml", stack)
    (problem,) = caught.value.problems
    assert problem.path == "--scenario"
    assert "SHOTLINE_EMULATOR_URL=http://127.0.0.1:9" in problem.message
    assert "shotline emulate --scenario" in problem.message


@pytest.mark.parametrize("providers", ["local", "auto"])
def test_a_scenario_without_emulated_providers_is_refused(tmp_path, providers):
    with ExitStack() as stack, pytest.raises(InvalidInputError) as caught:
        build_server(providers, tmp_path / "s.yaml", stack)
    assert [p.path for p in caught.value.problems] == ["--scenario"]
    assert "--providers emulated" in caught.value.problems[0].message


@pytest.mark.empty_data_dir
@pytest.mark.parametrize(
    ("args", "providers"),
    [
        (["render", "BOARD", "-o", "OUT"], "local"),
        (["draft", "a ferry at dawn", "-o", "OUT.yaml"], "auto"),
        (["commit", "0" * 32], "local"),
        (["doctor"], "local"),
    ],
    ids=["render", "draft", "commit", "doctor"],
)
def test_every_command_refuses_a_scenario_without_emulated_providers(tmp_path, args, providers):
    """Only ``serve`` refused it: ``render --providers local --scenario FILE`` rendered as if the
    scenario was not given."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text("seed: 1\n")
    board = Path(__file__).parents[2] / "examples" / "one-shot.yaml"
    words = [str(board) if a == "BOARD" else str(tmp_path / a) if a.startswith("OUT") else a
             for a in args]  # fmt: skip
    done = CliRunner().invoke(cli, [*words, "--providers", providers, "--scenario", str(scenario)])
    assert done.exit_code == 2, done.output
    assert f"--scenario: add --providers emulated (got --providers {providers})" in done.output
    assert not list(tmp_path.glob("OUT*")), "nothing rendered or drafted"
    assert not get_settings().data_dir.exists(), "no job, no spend"


def test_a_bad_scenario_file_is_refused_by_the_cli(monkeypatch, tmp_path):
    monkeypatch.delenv("SHOTLINE_EMULATOR_URL", raising=False)
    get_settings.cache_clear()
    bad = tmp_path / "bad.yaml"
    bad.write_text("defaults: {faults: [{kind: no_such_fault}]}\n")
    result = CliRunner().invoke(
        cli, ["serve", "--providers", "emulated", "--scenario", str(bad), "--port", "9"]
    )
    output = "".join(result.output.split())  # rich wraps long paths anywhere
    assert result.exit_code == 2, result.output
    assert f"invalidscenario{bad}" in output
    assert "defaults.faults.0.kind" in output


def test_scenario_file_must_exist(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("SHOTLINE_EMULATOR_URL", raising=False)
    get_settings.cache_clear()
    with ExitStack() as stack, pytest.raises(InvalidInputError, match="cannot read scenario"):
        build_server("emulated", tmp_path / "missing.yaml", stack)


@pytest.mark.parametrize("command", ["render", "serve"])
def test_an_emulator_url_nothing_answers_is_named_before_any_job(monkeypatch, tmp_path, command):
    """Before, a render against a stopped emulator spent every shot's attempts on ``connection
    refused`` and failed as "attempt budget of 4 used up"; ``serve`` started and did the same to
    each job it was given."""
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("SHOTLINE_EMULATOR_URL", url)
    get_settings.cache_clear()
    board = tmp_path / "board.yaml"
    board.write_text(
        "title: t\nscenes: [{id: s, shots: [{id: a, prompt: a calm sea, duration: 1}]}]\n"
    )
    args = {
        "render": ["render", str(board), "-o", str(tmp_path / "o.mp4")],
        "serve": ["serve", "--port", "0"],
    }
    result = CliRunner().invoke(cli, [*args[command], "--providers", "emulated"])
    output = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert f"error: no emulator answers at SHOTLINE_EMULATOR_URL={url} (" in output
    assert "Connection refused" in output
    assert not (tmp_path / "o.mp4").exists()
    jobs = CliRunner().invoke(cli, ["jobs", "list", "--json"])
    assert jobs.exit_code == 0, jobs.output
    assert jobs.stdout.strip() == "[]", "no job was made"
