"""A character's ElevenLabs voice id the account does not have is refused by ``POST
/v1/jobs:plan`` and ``POST /v1/jobs`` with its path (``pipeline.voice_check``): no job, nothing
sent to a provider. Before, the job was created and the line failed at its tts stage, after
the other shots' providers were paid."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from foundation import clock
from pipeline import voice_check
from pipeline.context import RunContext
from tests import web
from tests.api.conftest import tiny_board
from tests.contexts import emulated_context

ADAM = "pNInz6obpgDQGcFmaJgB"


@pytest.fixture(autouse=True)
def _fresh_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "today", lambda: date(2026, 12, 5))  # OpenAI's tts still on
    monkeypatch.setattr(voice_check, "LOOKUPS", voice_check.VoiceLookups())


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[RunContext]:
    """The app on emulated providers, with an emulator running."""
    with ExitStack() as stack:
        yield emulated_context(tmp_path, stack)


def voiced(voice: str) -> dict[str, Any]:
    board = tiny_board(2, tag=" voiced")
    board["characters"] = [{"id": "mara", "description": "woman, red raincoat", "voice": voice}]
    spoken = board["scenes"][0]["shots"][1]
    spoken.update(duration=3, characters=["mara"], dialogue="We leave at dawn.", speaker="mara")
    return board


def submissions(ctx: RunContext) -> dict[str, int]:
    root = ctx.base_urls["elevenlabs"].rsplit("/", 1)[0]
    return dict(web.get(root + "/_emulator/stats").json()["submissions"])


def test_an_unknown_voice_is_refused_with_its_path_before_any_spend(client, headers, ctx):
    board = voiced("elevenlabs:abc123")
    for route in ("/v1/jobs:plan", "/v1/jobs"):
        refused = client.post(route, json={"storyboard": board}, headers=headers)
        assert refused.status_code == 422, refused.text
        (problem,) = refused.json()["problems"]
        assert problem["path"] == "storyboard.characters[0].voice"  # where it is in the body
        assert "ElevenLabs has no voice 'abc123'" in problem["message"]
    assert client.get("/v1/jobs", headers=headers).json()["data"] == []
    assert submissions(ctx) == {}


def test_a_known_voice_plans(client, headers, ctx):
    planned = client.post(
        "/v1/jobs:plan", json={"storyboard": voiced(f"elevenlabs:{ADAM}")}, headers=headers
    )
    assert planned.status_code == 200, planned.text
    assert planned.json()["ok"]
    assert submissions(ctx) == {}  # the lookup is free: nothing was submitted
