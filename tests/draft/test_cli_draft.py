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


def test_draft_through_gemini_generate_content_then_plan(tmp_path):
    out = tmp_path / "gemini.yaml"
    done = run("draft", "a kite over dunes", "-o", str(out), "--shots", "2", "--providers",
               "emulated", "--model", "gemini/gemini-3.5-flash-lite", "--json")  # fmt: skip
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["model"] == "gemini/gemini-3.5-flash-lite"
    assert summary["rounds"][0]["input_tokens"] > 0
    assert summary["cost_usd"] > 0
    planned = run("plan", str(out), "--providers", "local", "--json")
    assert planned.exit_code == 0, planned.output
    assert len(json.loads(planned.stdout)["shots"]) == 2


def test_draft_refuses_an_unknown_model(tmp_path):
    done = run("draft", "x", "-o", str(tmp_path / "x.yaml"), "--providers", "emulated",
               "--model", "gemini/nope", "--json")  # fmt: skip
    assert done.exit_code != 0
    assert "gemini/nope" in done.output


def test_draft_refuses_a_model_that_cannot_draft_naming_why(tmp_path, monkeypatch):
    """gpt-4.1-mini after its shutdown (2027-01-14): the draft went to Gemini without a word."""
    monkeypatch.setenv("SHOTLINE_TODAY", "2027-02-01")
    done = run("draft", "a lighthouse keeper", "-o", str(tmp_path / "x.yaml"), "--providers",
               "emulated", "--model", "openai/gpt-4.1-mini")  # fmt: skip
    assert done.exit_code == 2, done.output
    assert "openai/gpt-4.1-mini: lifecycle retired" in " ".join(done.output.split())
    assert not (tmp_path / "x.yaml").exists()


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
    listed = json.loads(run("costs", "--json").stdout)
    assert listed["drafts"] == {"drafts": 0, "spend_usd": 0.0, "by_model": []}
    emulated = listed["emulated"]["drafts"]
    assert emulated["drafts"] == 1
    assert emulated["spend_usd"] == cost
    assert emulated["by_model"][0]["model"] == json.loads(done.stdout)["model"]
    assert emulated["by_model"][0]["input_tokens"] > 0
    table = run("costs").stdout
    assert "storyboard drafts on emulated providers (no money spent): 1 draft" in table
    later = json.loads(run("costs", "--json", "--from", "2999-01-01").stdout)
    assert later["emulated"]["drafts"]["drafts"] == 0


def test_draft_without_a_key_is_refused_before_any_call(tmp_path):
    done = run("draft", "x", "-o", str(tmp_path / "c.yaml"), "--providers", "live")
    assert done.exit_code != 0
    assert "SHOTLINE_OPENAI_API_KEY" in done.output
    assert not (tmp_path / "c.yaml").exists()


def test_a_draft_still_invalid_after_two_repairs_exits_2_and_is_still_booked(tmp_path):
    from foundation.settings import get_settings
    from store.db import session_scope
    from store.drafts import DraftCost

    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("models:\n  gpt-4.1-mini: {draft_invalid_rounds: 3}\n")
    out = tmp_path / "d.yaml"
    done = run("draft", "a storm", "-o", str(out), "--providers", "emulated",
               "--scenario", str(scenario))  # fmt: skip
    assert done.exit_code == 2, done.output
    assert "scenes[0].shots[0].duration" in done.output
    assert not out.exists()
    with session_scope(get_settings().db_url) as session:
        row = session.query(DraftCost).one()
        assert row.valid is False
        assert row.rounds == 3
        assert row.amount_usd > 0


def test_a_scenario_for_an_emulator_running_elsewhere_is_refused(tmp_path, monkeypatch):
    """``--scenario`` only shapes an emulator the command starts (the rule ``render`` and
    ``serve`` follow, ``shotline.emulated.emulator_urls``): one at ``SHOTLINE_EMULATOR_URL``
    runs its own."""
    from foundation.settings import get_settings

    monkeypatch.setenv("SHOTLINE_EMULATOR_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("seed: 1\n")
    done = run("draft", "a storm", "-o", str(tmp_path / "d.yaml"), "--providers", "emulated",
               "--scenario", str(scenario))  # fmt: skip
    assert done.exit_code != 0
    assert "--scenario" in done.output
    assert "SHOTLINE_EMULATOR_URL=http://127.0.0.1:9 is already running" in done.output
    assert not (tmp_path / "d.yaml").exists()


def test_models_json_names_each_kind():
    done = run("models", "--json")
    by_id = {m["id"]: m for m in json.loads(done.stdout)["models"]}
    assert by_id["google/veo-3.1"]["kind"] == "video"
    assert by_id["gemini/gemini-3.5-flash-lite"]["kind"] == "llm"
    caps = by_id["gemini/gemini-3.5-flash-lite"]["capabilities"]
    assert (caps["api"], caps["structured_output"]) == (
        "gemini_generate_content",
        "response_schema",
    )
    rates = by_id["openai/tts-1"]["usage_price"]
    assert rates[0]["meter"] == "characters"
    assert rates[0]["source"].startswith("developers.openai.com")


def test_an_existing_storyboard_is_kept_unless_forced(tmp_path):
    """``draft -o`` replaced a hand-edited storyboard without a word (``render`` refuses)."""
    out = tmp_path / "mine.yaml"
    out.write_text("title: edited by hand\n")
    refused = run("draft", "a fox", "-o", str(out), "--providers", "emulated", "--json")
    assert refused.exit_code == 2, refused.output
    assert json.loads(refused.stdout)["problems"] == [
        "--out: pass --force to overwrite it, or choose another -o path"
    ]
    assert out.read_text() == "title: edited by hand\n"
    forced = run("draft", "a fox", "-o", str(out), "--providers", "emulated", "--force")
    assert forced.exit_code == 0, forced.output
    assert yaml.safe_load(out.read_text())["title"] != "edited by hand"
