"""Gemini's native ``POST {base}/models/{model}:generateContent`` with structured output, for the
``llm`` models whose registry ``api`` is ``gemini_generate_content``.

``GeminiChatClient.complete`` takes the same chat body as ``adapters.chat.ChatClient`` (built once
by ``chat_body``), translates it with ``generate_content_body`` and answers the same
``ChatAnswer``, so a draft does not care which wire a model speaks.

Wire contract: google-genai 3.6.1 (installed) ``types.py`` (whose field docs copy
ai.google.dev/api/generate-content's GenerationConfig), read 2026-12-05; the body is the one the SDK
sends (``tests/draft/test_gemini_native.py`` compares them byte for byte as JSON):
- request ``{contents: [{role: user|model, parts: [{text}]}], systemInstruction: {parts: [...]},
  generationConfig: {responseMimeType, responseJsonSchema, temperature, maxOutputTokens}}``, the
  key as ``x-goog-api-key``;
- ``responseJsonSchema`` takes JSON Schema, "only the following properties are supported: $id
  $defs $ref $anchor type format title description enum items prefixItems minItems maxItems
  minimum maximum anyOf oneOf properties additionalProperties required" (+ ``propertyOrdering``),
  "If $ref is set on a sub-schema, no other properties, except for those starting as a $, may be
  set", ``response_mime_type`` required with it (``GenerateContentConfig.response_json_schema``).
  ``gemini_json_schema`` reduces a pydantic schema to that subset (``default``, ``pattern``,
  ``minLength``, ``maxLength`` go: our storyboard validator still checks them);
- answer ``candidates[0].content.parts[].text``, ``finishReason`` (``FinishReason``: STOP,
  MAX_TOKENS, SAFETY...), ``promptFeedback.blockReason`` when the prompt is blocked, and
  ``usageMetadata{promptTokenCount, candidatesTokenCount, thoughtsTokenCount,
  cachedContentTokenCount, totalTokenCount}`` (thinking tokens bill as output: registry);
- errors ``{"error": {"code", "message", "status"}}``: ai.google.dev/gemini-api/docs/troubleshooting
  (stored copy read 2026-12-05) lists 400 INVALID_ARGUMENT / FAILED_PRECONDITION, 403
  PERMISSION_DENIED, 404 NOT_FOUND, 429 RESOURCE_EXHAUSTED (``google.rpc.RetryInfo``), 500
  INTERNAL, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED; ``adapters._http.classify_status`` maps them
  (rejected input, rate limited, transient, timeout).
- Corroboration: firebase-js-sdk 964465c ``docs-devsite/ai.generationconfig.md``
  (``responseJsonSchema``: "responseSchema must be omitted, but responseMimeType is required and
  must be set to application/json").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from adapters._images_gemini import SAFETY_REASONS, gemini_http
from adapters.chat import ChatAnswer
from adapters.errors import ProviderFailureError, SafetyRefusalError, answer_shape

JSON_SCHEMA_KEYWORDS = frozenset(
    {
        "$id", "$defs", "$ref", "$anchor", "type", "format", "title", "description", "enum",
        "items", "prefixItems", "minItems", "maxItems", "minimum", "maximum", "anyOf", "oneOf",
        "properties", "additionalProperties", "required", "propertyOrdering",
    }
)  # fmt: skip
_SCHEMA_MAPS = ("properties", "$defs")  # keyword -> {name: schema}
_ROLES = {"user": "user", "assistant": "model"}


def gemini_json_schema(schema: Any) -> Any:
    """``schema`` reduced to what ``responseJsonSchema`` supports: unsupported keywords dropped at
    every level, and a ``$ref`` node keeps only its ``$`` keywords."""
    if isinstance(schema, list):
        return [gemini_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in JSON_SCHEMA_KEYWORDS or ("$ref" in schema and not key.startswith("$")):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: gemini_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "prefixItems", "anyOf", "oneOf", "additionalProperties"):
            out[key] = gemini_json_schema(value)
        else:
            out[key] = value
    return out


def generate_content_body(chat: Mapping[str, Any]) -> dict[str, Any]:
    """The native request for a ``chat_body``: system messages become ``systemInstruction``,
    user/assistant turns ``contents`` (roles ``user``/``model``), a ``json_schema`` response
    format ``responseMimeType: application/json`` + ``responseJsonSchema``."""
    system: list[dict[str, str]] = []
    contents: list[dict[str, Any]] = []
    for message in chat.get("messages") or []:
        text = _text(message.get("content"))
        role = str(message.get("role"))
        if role in ("system", "developer"):
            system.append({"text": text})
        else:
            contents.append({"role": _ROLES.get(role, "user"), "parts": [{"text": text}]})
    config: dict[str, Any] = {}
    fmt = chat.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = gemini_json_schema((fmt.get("json_schema") or {})["schema"])
    elif fmt.get("type") == "json_object":
        config["responseMimeType"] = "application/json"
    if chat.get("temperature") is not None:
        config["temperature"] = chat["temperature"]
    limit = chat.get("max_completion_tokens", chat.get("max_tokens"))
    if limit is not None:
        config["maxOutputTokens"] = limit
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system, "role": "user"}  # as the SDK sends it
    if config:
        body["generationConfig"] = config
    return body


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


class GeminiChatClient:
    """The Gemini API's ``generateContent`` for chat drafts. Never retries."""

    provider = "gemini"
    api = "gemini_generate_content"

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        self._http = gemini_http(api_key, base_url, timeout_s, transport)

    def complete(self, body: Mapping[str, Any]) -> ChatAnswer:
        """Send the chat ``body`` natively. A blocked prompt or a safety stop is a
        ``SafetyRefusalError``; an answer cut at ``maxOutputTokens`` or without text a
        ``ProviderFailureError`` naming the finish reason and the tokens spent."""
        model = str(body.get("model", ""))
        data = self._http.json(
            "POST", f"/models/{model}:generateContent", json=generate_content_body(body)
        )
        with answer_shape(self.provider, data):
            return self._checked(data, model)

    def _checked(self, data: dict[str, Any], model: str) -> ChatAnswer:
        """The answer's text, or the refusal or failure the answer holds."""
        answer = _answer(data, model)
        blocked = (data.get("promptFeedback") or {}).get("blockReason")
        if blocked:
            raise SafetyRefusalError(f"prompt blocked: {blocked}", self.provider, data)
        candidates = data.get("candidates") or []
        first = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
        reason = str(first.get("finishReason") or "")
        if reason in SAFETY_REASONS or reason == "RECITATION":
            raise SafetyRefusalError(f"the model refused: {reason}", self.provider, data)
        spent = f"{answer.input_tokens} in, {answer.output_tokens} out tokens billed"
        if reason == "MAX_TOKENS":
            raise ProviderFailureError(
                f"answer cut at maxOutputTokens (finishReason MAX_TOKENS; {spent})",
                self.provider,
                data,
            )
        if not answer.text:
            raise ProviderFailureError(
                f"no text in the answer (finishReason {reason or 'missing'}; {spent})",
                self.provider,
                data,
            )
        return answer

    def close(self) -> None:
        self._http.close()


def _answer(data: dict[str, Any], model: str) -> ChatAnswer:
    candidates = data.get("candidates") or []
    first = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
    parts = (first.get("content") or {}).get("parts") or []
    text = "".join(
        str(p.get("text", ""))
        for p in parts
        if isinstance(p, dict) and not p.get("thought")  # thought summaries are not the answer
    )
    usage = data.get("usageMetadata") or {}
    output = int(usage.get("candidatesTokenCount") or 0) + int(usage.get("thoughtsTokenCount") or 0)
    return ChatAnswer(
        text=text,
        input_tokens=int(usage.get("promptTokenCount") or 0),
        output_tokens=output,
        cached_input_tokens=int(usage.get("cachedContentTokenCount") or 0),
        model=str(data.get("modelVersion") or model),
        raw=data,
    )
