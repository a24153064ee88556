"""Screening through the CLI: ``plan`` and ``render`` refuse with exit 2, naming the shot, the field
and the rule, and a refused render reaches no provider and reserves nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from emulators import start_emulator
from foundation.settings import get_settings
from shotline.cli import app
from store.db import session_scope
from store.models import Attempt, Job, LedgerEntry
from tests import web

REFUSED = (
    "scenes[0].shots[1].prompt: refused by rule weapons-graphic "
    "(graphic violence with weapons: matched 'stabbed to death')"
)


def _storyboard(tmp_path: Path) -> Path:
    board = {
        "title": "Harbour",
        "output": {"size": "320x180"},
        "scenes": [
            {
                "id": "s1",
                "shots": [
                    {"id": "calm", "prompt": "a lighthouse in fog at dawn", "duration": 4},
                    {"id": "fight", "prompt": "a pirate stabbed to death", "duration": 4},
                ],
            }
        ],
    }
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(board))
    return path


def test_plan_refuses_with_exit_2_and_names_the_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plan", str(_storyboard(tmp_path)), "--json"])
    assert result.exit_code == 2, result.output
    payload = json.loads(result.stdout)
    assert payload["error"] == "ScreeningRefusedError"
    assert payload["problems"] == [REFUSED]


def test_a_refused_render_reaches_no_provider_and_reserves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with start_emulator() as emulator:
        monkeypatch.setenv("SHOTLINE_EMULATOR_URL", emulator.base_url)
        get_settings.cache_clear()
        out = tmp_path / "out.mp4"
        args = ["render", str(_storyboard(tmp_path)), "-o", str(out), "--providers", "emulated"]
        result = CliRunner().invoke(app, [*args, "--mode", "final"])
        stats = web.get(f"{emulator.base_url}/_emulator/stats").json()
    assert result.exit_code == 2, result.output
    assert "refused by rule weapons-graphic" in result.output
    assert "scenes[0].shots[1].prompt" in result.output
    assert stats["submissions"] == {}
    assert stats["creates"] == {}
    assert not out.exists()
    with session_scope(get_settings().db_url) as session:
        for table in (Job, Attempt, LedgerEntry):
            assert session.scalar(select(func.count()).select_from(table)) == 0, table


def test_a_bad_rule_file_is_reported_with_each_rule_and_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README "Screening": a bad rule in ``SHOTLINE_PROMPT_POLICY`` is reported with its index
    and the reason, not only the file's name."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "rules:\n  - {id: x, description: d, fields: [prompt, caption], words: [boat]}\n"
    )
    monkeypatch.setenv("SHOTLINE_PROMPT_POLICY", str(policy))
    get_settings.cache_clear()
    done = CliRunner().invoke(app, ["plan", str(_storyboard(tmp_path))])
    assert done.exit_code == 1, done.output
    assert f"invalid prompt policy {policy}" in done.output
    assert "rules.0.fields.1: Input should be 'prompt'" in done.output
