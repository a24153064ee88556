"""``shotline commit`` and ``shotline costs`` on the local renderer: quote, commit, exit codes."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from foundation.settings import get_settings
from pipeline import commit
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from shotline.commands import commit as commit_command
from shotline.commands import costs as costs_command
from tests.ledger.conftest import small_board


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    commit_command.register(app)
    costs_command.register(app)
    return app


@pytest.fixture
def preview_id() -> str:
    ctx = RunContext.create("local", get_settings())
    ctx.settings.poll_interval_s = 0.01
    board = small_board(2, output={"size": "160x90"})
    job_id = commit.start_preview(ctx, board)
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"
    return job_id


def test_quote_commit_and_costs(cli, preview_id):
    runner = CliRunner()
    quoted = runner.invoke(cli, ["commit", preview_id, "--quote", "--providers", "local", "--json"])
    assert quoted.exit_code == 0, quoted.output
    assert [s["shot_id"] for s in json.loads(quoted.stdout)["quote"]["shots"]] == ["k0", "k1"]

    done = runner.invoke(
        cli,
        ["commit", preview_id, "--shots", "k1", "--reject", "k0", "--providers", "local", "--json"],
    )
    assert done.exit_code == 0, done.output
    payload = json.loads(done.stdout)
    assert payload["report"]["status"] == "delivered"
    assert (payload["commit"]["kept"], payload["commit"]["rejected"]) == (["k0"], ["k0"])
    assert [s["approved"] for s in payload["versions"]["shots"]] == [False, True]

    table = runner.invoke(cli, ["costs", "--by", "job"])
    assert table.exit_code == 0, table.output
    assert "costs by job" in table.stdout
    figures = json.loads(runner.invoke(cli, ["costs", "--json"]).stdout)
    assert figures["totals"]["attempts"] == 3
    assert figures["preview"]["committed_shots"] == 1
    assert figures["preview"]["declined_shots"] == 1, "k0 was reviewed and declined"


def test_exit_codes(cli, preview_id):
    runner = CliRunner()
    unknown = runner.invoke(cli, ["commit", preview_id, "--shots", "nope", "--providers", "local"])
    assert unknown.exit_code == 2
    assert runner.invoke(cli, ["costs", "--by", "colour"]).exit_code == 2
    assert runner.invoke(cli, ["costs", "--from", "yesterday"]).exit_code == 2
    missing = runner.invoke(cli, ["commit", "0" * 32, "--providers", "local", "--json"])
    assert missing.exit_code == 1
    assert json.loads(missing.stdout)["error"] == "NotFoundError"


def test_a_quote_under_auto_without_keys_says_the_final_is_local(cli, preview_id, monkeypatch):
    """The quote said only ``local/animatic draft $0.00`` for every shot, with no word why."""
    from router import CREDENTIALS

    for setting in CREDENTIALS.values():
        monkeypatch.delenv(f"SHOTLINE_{setting.upper()}", raising=False)
    get_settings.cache_clear()
    quoted = CliRunner().invoke(cli, ["commit", preview_id, "--quote"], env={"COLUMNS": "300"})
    assert quoted.exit_code == 0, quoted.output
    assert (
        "note: no hosted provider key is set, so --providers auto renders the final on the local "
        "animatic at $0"
    ) in quoted.output
    local = CliRunner().invoke(cli, ["commit", preview_id, "--quote", "--providers", "local"])
    assert "note: --providers local renders the final on the local animatic" in " ".join(
        local.output.split()
    )
