"""The OpenAI-compatible chat adapter against the strict emulator: what OpenAI refuses is refused
(400 with the param), a storyboard draft answers with usage, Gemini's compatible layer too."""

from __future__ import annotations

import json
from datetime import date

import pytest

from adapters.chat import ChatClient, chat_body
from adapters.errors import ProviderError
from foundation import clock
from foundation.storyboard import parse_storyboard
from pipeline.draft import storyboard_schema

MESSAGES = [{"role": "user", "content": "a fox crosses a frozen lake\nWrite exactly 2 shots."}]


def client(emulator, provider: str = "openai") -> ChatClient:
    base = emulator.judge_base_urls[provider] + ("/openai" if provider == "gemini" else "")
    return ChatClient(provider, "test-key", base)


def body(**changes):
    data = chat_body("gpt-4.1-mini", MESSAGES, schema_name="storyboard", schema=storyboard_schema())
    data.update(changes)
    return data


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_a_draft_is_a_valid_storyboard_with_usage(emulator, provider):
    answer = client(emulator, provider).complete(body())
    board = parse_storyboard(json.loads(answer.text))
    assert len(board.shots()) == 2
    assert board.shots()[0][1].prompt.startswith("a fox crosses a frozen lake")
    assert answer.input_tokens > 0
    assert answer.output_tokens > 0


def test_the_body_is_built_once_with_a_json_schema_response_format():
    data = body()
    fmt = data["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "storyboard"
    assert fmt["json_schema"]["schema"]["title"] == "Storyboard"
    assert fmt["json_schema"]["strict"] is False


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"model": ""}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "narrator", "content": "x"}]}, "messages[0].role"),
        ({"response_format": {"type": "yaml"}}, "response_format.type"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "story board"}}},
            "response_format.json_schema.name",
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "storyboard",
                        "strict": True,
                        "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
                    },
                }
            },
            "response_format.json_schema.schema",
        ),
    ],
)
def test_what_openai_refuses_is_refused_with_the_param(emulator, change, param):
    with pytest.raises(ProviderError) as info:
        client(emulator).complete(body(**change))
    raw = info.value.raw
    text = json.dumps(raw) if not isinstance(raw, str) else raw
    assert param in text, text


def test_gemini_layer_needs_a_bearer_key(emulator):
    with pytest.raises(ProviderError):
        ChatClient("gemini", "", emulator.judge_base_urls["gemini"] + "/openai").complete(body())


def test_the_openai_sdk_reads_the_emulated_draft(emulator):
    """openai 3.60.0 (in uv.lock) sends our body and parses the emulator's answer."""
    from openai import OpenAI

    sdk = OpenAI(api_key="k", base_url=emulator.judge_base_urls["openai"], max_retries=0)
    data = body()
    completion = sdk.chat.completions.create(
        model=data["model"], messages=data["messages"], response_format=data["response_format"]
    )
    board = parse_storyboard(json.loads(completion.choices[0].message.content or ""))
    assert len(board.shots()) == 2
    assert completion.usage is not None
    assert completion.usage.completion_tokens > 0


@pytest.fixture(autouse=True)
def _before_the_shutdowns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The models below as the emulator serves them before their announced shutdowns (o4-mini
    shut down on 2026-10-23, gpt-5-mini does on 2026-12-11, gpt-4.1-mini on 2027-01-14)."""
    monkeypatch.setattr(clock, "today", lambda: date(2026, 12, 5))


@pytest.mark.parametrize(("model", "temperature"), [("gpt-5-mini", 0.2), ("gpt-5.4", 0)])
def test_reasoning_models_refuse_a_temperature_other_than_1(emulator, model, temperature):
    """The API's 400 ``unsupported_value`` (sources: ``emulators/routes/_chat_rules.py``)."""
    with pytest.raises(ProviderError) as info:
        client(emulator).complete(body(model=model, temperature=temperature))
    raw = info.value.raw
    assert isinstance(raw, dict)
    error = raw["error"]
    assert (error["param"], error["code"]) == ("temperature", "unsupported_value")
    assert "Only the default (1) value is supported." in error["message"]


@pytest.mark.parametrize(("model", "temperature"), [("gpt-5-mini", 1), ("gpt-4.1-mini", 0.2)])
def test_a_temperature_the_model_takes_is_answered(emulator, model, temperature):
    answer = client(emulator).complete(body(model=model, temperature=temperature))
    assert json.loads(answer.text)["scenes"]  # a draft (valid or not: the scenario decides)
