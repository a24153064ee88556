"""``shotline draft`` writes a storyboard ``shotline plan`` accepts, and books the draft's cost."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from shotline.cli import app


def run(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_draft_then_plan(tmp_path):
    out = tmp_path / "storyboard.yaml"
    done = run(
        "draft", "a fox crosses a frozen lake", "-o", str(out), "--shots", "4",
        "--duration", "5", "--style", "pastel watercolour", "--providers", "emulated", "--json",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["model"] == "openai/gpt-4.1-mini"
    assert summary["cost_usd"] > 0
    data = yaml.safe_load(out.read_text())
    shots = [s for scene in data["scenes"] for s in scene["shots"]]
    assert len(shots) == 4
    assert all(s["duration"] == 5 for s in shots)
    planned = run("plan", str(out), "--providers", "local", "--json")
    assert planned.exit_code == 0, planned.output
    assert len(json.loads(planned.stdout)["shots"]) == 4


def test_draft_books_its_cost_outside_a_job(tmp_path):
    from foundation.settings import get_settings
    from ledger.drafts import drafts_spent
    from store.db import session_scope

    done = run("draft", "rain on a tin roof", "-o", str(tmp_path / "b.yaml"),
               "--providers", "emulated", "--json")  # fmt: skip
    assert done.exit_code == 0, done.output
    cost = json.loads(done.stdout)["cost_usd"]
    with session_scope(get_settings().db_url) as session:
        assert drafts_spent(session, "local", emulated=True) == cost
        assert drafts_spent(session, "local", emulated=False) == 0


def test_draft_without_a_key_is_refused_before_any_call(tmp_path):
    done = run("draft", "x", "-o", str(tmp_path / "c.yaml"), "--providers", "live")
    assert done.exit_code != 0
    assert "SHOTLINE_OPENAI_API_KEY" in done.output
    assert not (tmp_path / "c.yaml").exists()
