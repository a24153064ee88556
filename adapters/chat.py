"""OpenAI-compatible ``POST {base}/chat/completions`` with structured output (``response_format``
``json_schema``): OpenAI itself, and Gemini's OpenAI-compatible layer (base
``https://generativelanguage.googleapis.com/v1beta/openai``, providers.md §8).

``chat_body`` is the one request builder; ``ChatClient.complete`` sends it and returns the text
and the token usage the answer reports (``usage.prompt_tokens`` / ``completion_tokens``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from adapters._http import cap_answers, classify_status
from adapters.errors import (
    ProviderFailureError,
    ProviderTimeoutError,
    SafetyRefusalError,
    TransientError,
    answer_shape,
)
from foundation.tls import tls_context

# The GPT-5 family and the o-series reasoning models take only the default ``temperature`` (1):
# 400 ``unsupported_value`` otherwise (the sources: ``emulators/routes/_chat_rules.py``)
_DEFAULT_TEMPERATURE_ONLY = re.compile(r"^(gpt-5|o1|o3|o4)")


def takes_temperature(model: str) -> bool:
    """Whether ``model`` may be sent a ``temperature`` other than its default."""
    return _DEFAULT_TEMPERATURE_ONLY.match(model) is None


BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta/openai",
}


@dataclass(frozen=True)
class ChatAnswer:
    text: str
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    model: str
    raw: Mapping[str, Any]


def chat_body(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    schema_name: str,
    schema: Mapping[str, Any],
    strict: bool = False,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> dict[str, Any]:
    """The request body. ``strict`` false: the schema guides the model but the provider does not
    enforce OpenAI's strict subset (every property required, no defaults), which a pydantic
    schema with optional fields does not meet; our validator checks the answer instead."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [dict(m) for m in messages],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "schema": dict(schema), "strict": strict},
        },
    }
    if max_tokens is not None:
        body["max_completion_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    return body


class ChatPort(Protocol):
    """What a draft calls: a client of one provider speaking one registry ``api`` (``openai_chat``
    here, ``gemini_generate_content`` in ``adapters.gemini_chat``), taking a ``chat_body``."""

    provider: str
    api: str

    def complete(self, body: Mapping[str, Any]) -> ChatAnswer: ...


class ChatClient:
    """One provider's chat endpoint. Never retries (the caller's fallback chain does)."""

    api = "openai_chat"

    def __init__(
        self,
        provider: str,
        api_key: str,
        base_url: str | None = None,
        client: httpx.Client | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        self.provider = provider
        self.api_key = api_key
        self.base_url = (base_url or BASE_URLS.get(provider, BASE_URLS["openai"])).rstrip("/")
        self.client = client or httpx.Client(
            timeout=timeout_s, event_hooks={"response": [cap_answers()]}, verify=tls_context()
        )

    def complete(self, body: Mapping[str, Any]) -> ChatAnswer:
        url = f"{self.base_url}/chat/completions"
        headers = {"Authorization": f"Bearer {self.api_key}"}
        try:
            response = self.client.post(url, json=dict(body), headers=headers)
        except httpx.TimeoutException as exc:
            raise ProviderTimeoutError(f"chat timed out: {exc}", self.provider) from exc
        except httpx.RequestError as exc:
            raise TransientError(f"chat unreachable: {exc}", self.provider) from exc
        if response.status_code >= 400:
            raise classify_status(self.provider, response)
        try:
            data = response.json()
        except ValueError as exc:
            raise ProviderFailureError("chat answered non-JSON", self.provider) from exc
        with answer_shape(self.provider, data):
            return self._answer(data, str(body.get("model", "")))

    def _answer(self, data: Any, model: str) -> ChatAnswer:
        message = chat_message(data, self.provider, "chat", "the model")
        usage = data.get("usage") or {}
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        return ChatAnswer(
            text=str(message.get("content") or ""),
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            cached_input_tokens=int(cached),
            model=str(data.get("model") or model),
            raw=data,
        )


def chat_message(data: Any, provider: str, who: str, refuser: str) -> dict[str, Any]:
    """The first choice's message of a chat completion; ``ProviderFailureError`` without one
    (``WHO returned no choice``), ``SafetyRefusalError`` when the model refused (``refusal``, or
    the content filter stopped it: ``REFUSER refused: ...``)."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices:
        raise ProviderFailureError(f"{who} returned no choice", provider, raw=data)
    message: dict[str, Any] = choices[0].get("message") or {}
    if message.get("refusal") or choices[0].get("finish_reason") == "content_filter":
        refusal = message.get("refusal")
        raise SafetyRefusalError(f"{refuser} refused: {refusal}", provider, raw=data)
    return message
