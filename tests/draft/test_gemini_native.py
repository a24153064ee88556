"""Drafts through Gemini's native generateContent: the google-genai SDK and our adapter send the
same request and read a storyboard from the strict emulator, which refuses what Google refuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.chat import chat_body
from adapters.errors import (
    ProviderFailureError,
    RateLimitedError,
    RejectedInputError,
    SafetyRefusalError,
)
from adapters.gemini_chat import JSON_SCHEMA_KEYWORDS, GeminiChatClient, gemini_json_schema
from emulators import EmulatorHandle, start_emulator
from emulators.routes._gemini_text import refusal
from emulators.scenario import Scenario
from foundation.storyboard import parse_storyboard
from pipeline.draft import DraftBrief, draft_storyboard, storyboard_schema
from registry import load_registry
from tests import web

BRIEF = "a fox crosses a frozen lake\nWrite exactly 2 shots."
SYSTEM = "You write storyboards."
MESSAGES = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": BRIEF}]
KEY = {"x-goog-api-key": "k"}


def url(emulator: EmulatorHandle, model: str = "gemini-3.5-flash-lite") -> str:
    return f"{emulator.judge_base_urls['gemini']}/models/{model}:generateContent"


def draft_body(model: str = "gemini-3.5-flash-lite", **config: Any) -> dict[str, Any]:
    generation = {
        "responseMimeType": "application/json",
        "responseJsonSchema": gemini_json_schema(storyboard_schema()),
        **config,
    }
    return {"contents": [{"role": "user", "parts": [{"text": BRIEF}]}],
            "generationConfig": generation}  # fmt: skip


def test_the_sent_schema_keeps_only_supported_keywords():
    raw = storyboard_schema()
    assert "Invalid JSON schema" in str(refusal(draft_body() | _with_schema(raw)))
    reduced = gemini_json_schema(raw)
    assert refusal(draft_body() | _with_schema(reduced)) is None
    seen: set[str] = set()
    _keywords(reduced, seen)
    assert seen <= JSON_SCHEMA_KEYWORDS
    assert {"$ref", "$defs", "anyOf", "required", "additionalProperties"} <= seen
    assert "title" in reduced["properties"]  # a property named like a keyword stays
    assert reduced["$defs"]["Shot"]["properties"]["audio"] == {"$ref": "#/$defs/AudioNeed"}


def _with_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {"generationConfig": {"responseMimeType": "application/json",
                                 "responseJsonSchema": schema}}  # fmt: skip


def _keywords(node: Any, seen: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _keywords(item, seen)
    elif isinstance(node, dict):
        for key, value in node.items():
            seen.add(key)
            if key in ("properties", "$defs"):
                for sub in value.values():
                    _keywords(sub, seen)
            elif key not in ("enum", "required"):
                _keywords(value, seen)


def test_the_sdk_and_the_adapter_send_one_request_and_read_a_storyboard(emulator):
    from google import genai
    from google.genai import types

    sent: list[httpx.Request] = []
    client = genai.Client(
        api_key="k",
        http_options=types.HttpOptions(
            base_url=emulator.base_urls["google"],
            api_version="v1beta",
            client_args={"event_hooks": {"request": [sent.append]}},
        ),
    )
    schema = gemini_json_schema(storyboard_schema())
    response = client.models.generate_content(
        model="gemini-3.5-flash-lite",
        contents=BRIEF,
        config=types.GenerateContentConfig(
            system_instruction=SYSTEM,
            response_mime_type="application/json",
            response_json_schema=schema,
            temperature=0.4,
            max_output_tokens=4000,
        ),
    )
    assert response.text is not None
    assert len(parse_storyboard(json.loads(response.text)).shots()) == 2
    assert response.usage_metadata is not None
    assert response.usage_metadata.prompt_token_count
    assert sent[0].headers["x-goog-api-key"] == "k"
    sdk = json.loads(sent[0].content)

    ours: list[httpx.Request] = []
    adapter = GeminiChatClient("k", emulator.judge_base_urls["gemini"])
    adapter._http.client.event_hooks["request"].append(ours.append)
    chat = chat_body("gemini-3.5-flash-lite", MESSAGES, schema_name="storyboard",
                     schema=storyboard_schema(), max_tokens=4000, temperature=0.4)  # fmt: skip
    answer = adapter.complete(chat)
    path = "/google/v1beta/models/gemini-3.5-flash-lite:generateContent"
    assert ours[0].url.path == sent[0].url.path == path
    assert json.loads(ours[0].content) == sdk  # the SDK's exact body
    assert parse_storyboard(json.loads(answer.text)).shots()[0][1].prompt.startswith("a fox")
    assert answer.input_tokens > 0
    assert answer.output_tokens > 0


@pytest.mark.parametrize(
    ("model", "body", "headers", "code", "status", "words"),
    [
        ("gemini-3.5-flash-lite", draft_body(), {}, 403, "PERMISSION_DENIED", "unregistered"),
        ("gemini-9-ultra", draft_body(), KEY, 404, "NOT_FOUND", "gemini-9-ultra is not found"),
        ("gemini-3.5-flash-lite", {"contents": []}, KEY, 400, "INVALID_ARGUMENT", "contents is not"),
        ("gemini-3.5-flash-lite", draft_body(responseMimeType="application/yaml"), KEY, 400,
         "INVALID_ARGUMENT", "response_mime_type"),
        ("gemini-3.5-flash-lite", draft_body(responseMimeType="text/plain"), KEY, 400,
         "INVALID_ARGUMENT", "must be application/json"),
        ("gemini-3.5-flash-lite", draft_body(responseSchema={"type": "OBJECT"}), KEY, 400,
         "INVALID_ARGUMENT", "cannot both be set"),
        ("gemini-3.5-flash-lite", draft_body(responseJsonSchema=storyboard_schema()), KEY, 400,
         "INVALID_ARGUMENT", "$ref"),
        ("gemini-3.5-flash-lite", draft_body(responseJsonSchema=None, responseSchema={
            "$schema": "x", "type": "OBJECT"}), KEY, 400, "INVALID_ARGUMENT",
         'Unknown name "$schema"'),
    ],
)  # fmt: skip
def test_what_google_refuses_is_refused(emulator, model, body, headers, code, status, words):
    config = body.get("generationConfig") or {}
    body = {**body, "generationConfig": {k: v for k, v in config.items() if v is not None}}
    answer = web.post(url(emulator, model), json=body, headers=headers)
    assert answer.status_code == code
    error = answer.json()["error"]
    assert (error["code"], error["status"]) == (code, status)
    assert words in error["message"]


def test_the_adapter_classifies_refusals(emulator):
    client = GeminiChatClient("k", emulator.judge_base_urls["gemini"])
    chat = chat_body("gemini-9-ultra", MESSAGES, schema_name="storyboard", schema={})
    with pytest.raises(RejectedInputError, match="not found"):
        client.complete(chat)
    short = chat_body("gemini-3.5-flash-lite", MESSAGES, schema_name="storyboard",
                      schema=storyboard_schema(), max_tokens=20)  # fmt: skip
    with pytest.raises(ProviderFailureError, match=r"MAX_TOKENS.*20 out tokens billed"):
        client.complete(short)


@pytest.fixture(scope="module")
def faulty() -> Iterator[EmulatorHandle]:
    faults = [{"kind": "safety_refusal", "calls": [1]},
              {"kind": "rate_limit", "calls": [2], "retry_after_s": 3}]  # fmt: skip
    models = {"gemini-2.5-pro": {"faults": faults},
              "gemini-3.5-flash-lite": {"draft_invalid_rounds": 1}}  # fmt: skip
    scenario = Scenario.model_validate({"models": models, "invalid_keys": ["revoked"]})
    with start_emulator(scenario) as handle:
        yield handle


def test_a_blocked_prompt_and_a_rate_limit_are_typed(faulty):
    client = GeminiChatClient("k", faulty.judge_base_urls["gemini"])
    chat = chat_body("gemini-2.5-pro", MESSAGES, schema_name="storyboard",
                     schema=storyboard_schema())  # fmt: skip
    with pytest.raises(SafetyRefusalError, match="prompt blocked: SAFETY"):
        client.complete(chat)
    with pytest.raises(RateLimitedError) as limited:
        client.complete(chat)
    assert limited.value.retry_after == 3
    assert parse_storyboard(json.loads(client.complete(chat).text))


def test_a_refused_key_is_googles_api_key_invalid(faulty):
    answer = web.post(url(faulty), json=draft_body(), headers={"x-goog-api-key": "revoked"})
    assert answer.status_code == 400
    assert answer.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    with pytest.raises(RejectedInputError, match="API key not valid"):
        GeminiChatClient("revoked", faulty.judge_base_urls["gemini"]).complete(
            chat_body("gemini-3.5-flash-lite", MESSAGES, schema_name="storyboard", schema={})
        )


def test_a_native_draft_is_repaired_in_the_same_conversation(faulty):
    client = GeminiChatClient("k", faulty.judge_base_urls["gemini"])
    sent: list[httpx.Request] = []
    client._http.client.event_hooks["request"].append(sent.append)
    brief = DraftBrief("a kite over dunes", shots=2, duration_s=3)
    result = draft_storyboard(brief, load_registry(), {"gemini": client})
    assert result.model_id == "gemini/gemini-3.5-flash-lite"
    assert result.board is not None
    assert len(result.rounds) == 2
    assert any("duration" in p.path for p in result.rounds[0].problems)
    repair = json.loads(sent[1].content)
    assert [c["role"] for c in repair["contents"]] == ["user", "model", "user"]
    assert "The storyboard is invalid" in repair["contents"][2]["parts"][0]["text"]
    assert result.cost_usd > 0
