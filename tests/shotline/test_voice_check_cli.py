"""A character's ElevenLabs voice id the account does not have, through the CLI: ``plan`` and
``render`` exit 2 naming the character's ``voice``, and nothing reaches a provider or the ledger
(``pipeline.voice_check``); a known id plans."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from emulators import start_emulator
from foundation import clock
from foundation.settings import get_settings
from pipeline import voice_check
from shotline.cli import app
from store.db import session_scope
from store.models import Attempt, Job, LedgerEntry
from tests import web

ADAM = "pNInz6obpgDQGcFmaJgB"


@pytest.fixture(autouse=True)
def _fresh_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "today", lambda: date(2026, 12, 5))  # OpenAI's tts still on
    monkeypatch.setattr(voice_check, "LOOKUPS", voice_check.VoiceLookups())


def _storyboard(tmp_path: Path, voice: str) -> Path:
    board = {
        "title": "Harbour",
        "output": {"size": "160x90"},
        "characters": [{"id": "mara", "description": "woman, red raincoat", "voice": voice}],
        "scenes": [
            {
                "id": "s1",
                "shots": [
                    {"id": "calm", "prompt": "a lighthouse in fog at dawn", "duration": 1},
                    {
                        "id": "talk",
                        "prompt": "a woman on a pier",
                        "duration": 3,
                        "characters": ["mara"],
                        "dialogue": "We leave at dawn.",
                        "speaker": "mara",
                    },
                ],
            }
        ],
    }
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(board))
    return path


def test_plan_and_render_refuse_an_unknown_voice_before_any_spend(tmp_path, monkeypatch):
    board = _storyboard(tmp_path, "elevenlabs:abc123")
    out = tmp_path / "out.mp4"
    with start_emulator() as emulator:
        monkeypatch.setenv("SHOTLINE_EMULATOR_URL", emulator.base_url)
        get_settings.cache_clear()
        planned = CliRunner().invoke(
            app, ["plan", str(board), "--providers", "emulated", "--mode", "final", "--json"]
        )
        args = ["render", str(board), "-o", str(out), "--providers", "emulated"]
        rendered = CliRunner().invoke(app, [*args, "--mode", "final"])
        stats = web.get(f"{emulator.base_url}/_emulator/stats").json()
    assert planned.exit_code == 2, planned.output
    (problem,) = json.loads(planned.stdout)["problems"]
    assert problem.startswith("characters[0].voice: ElevenLabs has no voice 'abc123'")
    assert rendered.exit_code == 2, rendered.output
    assert "characters[0].voice" in rendered.output
    assert (stats["submissions"], stats["creates"]) == ({}, {})
    assert not out.exists()
    with session_scope(get_settings().db_url) as session:
        for table in (Job, Attempt, LedgerEntry):
            assert session.scalar(select(func.count()).select_from(table)) == 0, table


def test_plan_accepts_a_known_voice(tmp_path, monkeypatch):
    board = _storyboard(tmp_path, f"elevenlabs:{ADAM}")
    with start_emulator() as emulator:
        monkeypatch.setenv("SHOTLINE_EMULATOR_URL", emulator.base_url)
        get_settings.cache_clear()
        planned = CliRunner().invoke(
            app, ["plan", str(board), "--providers", "emulated", "--mode", "final", "--json"]
        )
    assert planned.exit_code == 0, planned.output
    talk = json.loads(planned.stdout)["stages"]["talk"]
    assert talk["model"].startswith("elevenlabs/")  # only ElevenLabs speaks its own voice id
