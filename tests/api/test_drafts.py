"""``POST /v1/storyboards:draft``: 200 with a storyboard plan accepts and its cost, 401 without a
key, 422 for a body that is no brief (and when no language model is configured)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulators import start_emulator
from foundation.storyboard import parse_storyboard_text
from pipeline.context import RunContext


@pytest.fixture
def ctx() -> Iterator[RunContext]:
    context = RunContext.create("emulated")
    with start_emulator() as handle:
        context.base_urls = dict(handle.base_urls)
        context.judge_base_urls = dict(handle.judge_base_urls)
        yield context


def test_draft_200(client, headers):
    body = {"brief": "a lighthouse in a storm", "shots": 2, "duration": 6, "style": "noir"}
    answer = client.post("/v1/storyboards:draft", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    board = parse_storyboard_text(data["yaml"])
    assert [shot.duration for _, shot in board.shots()] == [6, 6]
    assert data["storyboard"]["scenes"][0]["shots"][0]["prompt"].startswith("a lighthouse")
    assert data["model"] == "openai/gpt-4.1-mini"
    assert data["cost_usd"] > 0
    assert len(data["rounds"]) == 1
    costs = client.get("/v1/costs", headers=headers).json()
    assert costs["drafts"]["drafts"] + costs["emulated"]["drafts"]["drafts"] == 1


def test_draft_routed_to_gemini_generate_content(client, headers):
    body = {"brief": "a kite over dunes", "shots": 2, "model": "gemini/gemini-3.5-flash-lite"}
    answer = client.post("/v1/storyboards:draft", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["model"] == "gemini/gemini-3.5-flash-lite"
    assert len(parse_storyboard_text(data["yaml"]).shots()) == 2
    unknown = client.post(
        "/v1/storyboards:draft", json={"brief": "x", "model": "gemini/nope"}, headers=headers
    )
    assert unknown.status_code == 422
    assert "gemini/nope" in unknown.text


def test_draft_401_without_a_key(client):
    answer = client.post("/v1/storyboards:draft", json={"brief": "x"})
    assert answer.status_code == 401


@pytest.mark.parametrize(
    "body",
    [{}, {"brief": ""}, {"brief": "x", "shots": 0}, {"brief": "x", "colour": "red"}],
)
def test_draft_422_for_a_body_that_is_no_brief(client, headers, body):
    answer = client.post("/v1/storyboards:draft", json=body, headers=headers)
    assert answer.status_code == 422, answer.text


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ({"brief": "   \n "}, "brief", "is empty: say what the video is about"),
        ({"brief": "a sea", "style": " "}, "style", "is empty"),
        ({"brief": "a\x00sea"}, "brief", "contains a NUL character (U+0000)"),
    ],
)
def test_a_blank_brief_asks_no_language_model(client, headers, body, path, message):
    """A blank brief passed ``min_length=1`` and was drafted and paid for."""
    answer = client.post("/v1/storyboards:draft", json=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["problems"] == [{"path": path, "message": message}]
    costs = client.get("/v1/costs", headers=headers).json()
    assert (costs["drafts"]["drafts"], costs["emulated"]["drafts"]["drafts"]) == (0, 0)


def test_draft_422_when_no_language_model_is_configured(app, client, headers):
    app.state.api.ctx.providers = "local"  # live: no SHOTLINE_OPENAI/GEMINI key in tests
    answer = client.post("/v1/storyboards:draft", json={"brief": "x"}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert "no language model" in answer.text
