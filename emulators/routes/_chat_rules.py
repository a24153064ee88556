"""What OpenAI's ``POST /v1/chat/completions`` refuses before answering, and the emulated LLM
that drafts a storyboard (a ``response_format`` json_schema named ``storyboard``).

Sources: openai-python ``src/openai/types/chat/completion_create_params.py`` (``messages`` and
``model`` are ``Required``; ``response_format`` is text | json_schema | json_object) and
``src/openai/types/shared_params/response_format_json_schema.py`` (``json_schema.name`` is
``Required``: "a-z, A-Z, 0-9, or contain underscores and dashes, with a maximum length of 64";
``schema`` a JSON Schema object; ``strict`` optional): /work/shared/providers.md §8b, which
cites those SDK files (read 2026-12-04; the SDK version behind them is not pinned there: UNCERTAIN).
With ``strict: true`` every object, nested ones too, needs ``additionalProperties: false`` and every
property in ``required`` (OpenAI answers 400 "Invalid schema" otherwise): google/adk-java#1476
(2026-09-02, "set additionalProperties on schemas for OpenAI strict structured outputs"),
scaleway/docs-content b33aef9 (OpenAI SDKs expect both), dev.to "Why LLM structured output strict
mode rejects valid JSON Schema" (read 2026-12-04); the root must be an object: UNCERTAIN (from
platform.openai.com/docs/guides/structured-outputs as remembered).
The GPT-5 family (and the o-series reasoning models) take only the default ``temperature`` 1:
400 ``unsupported_value`` "Unsupported value: 'temperature' does not support 0.5 with this model.
Only the default (1) value is supported." ([3P] the API's body quoted in diffbot/code-gpt-docs#445,
2025-08-11, gpt-5; johny-b/llmcomp#69, 2026-04-20, gpt-5.4; chatboxai/chatbox#2564); which ids
beyond ``gpt-5*`` and ``o1``/``o3``/``o4`` refuse it is UNCERTAIN.
A model past its announced shutdown (openai 3.60.0 ``types/shared/chat_model.py``, "Deprecated
values: ... Announced shutdown date") is 404 ``model_not_found``, "The model `X` does not exist or
you do not have access to it." (OpenAI's answer for any model it does not serve, as the images
emulator answers a shut-down image model); the table keeps the GPT-4.1/4o/5 families' dates.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from datetime import date
from typing import Any

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
_FORMATS = {"text", "json_object", "json_schema"}
_DEFAULT_TEMPERATURE_ONLY = re.compile(r"^(gpt-5|o1|o3|o4)")
_SHUTDOWNS = {
    date(2026, 12, 11): ("gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-5-2025-08-07",
                         "gpt-5-mini-2025-08-07", "gpt-5-nano-2025-08-07", "o3", "o3-2025-04-16"),
    date(2027, 1, 14): ("gpt-4.1", "gpt-4.1-mini", "gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14",
                        "gpt-4o", "gpt-4o-2024-11-20", "gpt-4o-2024-08-06", "gpt-4o-mini",
                        "gpt-4o-mini-2024-07-18"),
    date(2026, 10, 23): ("gpt-4.1-nano", "gpt-4.1-nano-2025-04-14", "o4-mini", "o3-mini", "o1",
                         "gpt-4-turbo", "gpt-4", "gpt-3.5-turbo"),
    date(2027, 4, 1): ("gpt-5.4-nano", "gpt-5.4-nano-2026-03-17", "gpt-5.1", "gpt-5.1-2025-11-13"),
}  # fmt: skip
SHUTDOWN_ON = {model: day for day, models in _SHUTDOWNS.items() for model in models}


def shut_down(model: Any, today: date) -> str | None:
    """The 404 ``model_not_found`` message for a model past its announced shutdown, else None."""
    day = SHUTDOWN_ON.get(model) if isinstance(model, str) else None
    if day is None or today < day:
        return None
    return f"The model `{model}` does not exist or you do not have access to it."


def refusal(body: dict[str, Any]) -> tuple[str, str] | tuple[str, str, str] | None:
    """(param, message[, code]) of the first rule the request breaks, else None (answered 400)."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model", "you must provide a model parameter"
    temperature = body.get("temperature")
    if _DEFAULT_TEMPERATURE_ONLY.match(body["model"]) and temperature not in (None, 1):
        message = (
            f"Unsupported value: 'temperature' does not support {temperature} with this model."
            " Only the default (1) value is supported."
        )
        return "temperature", message, "unsupported_value"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages", "'messages' must be a non-empty array"
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            return f"messages[{index}].role", "role must be one of " + ", ".join(sorted(_ROLES))
    fmt = body.get("response_format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") not in _FORMATS:
        return "response_format.type", "must be one of text, json_object, json_schema"
    if fmt["type"] != "json_schema":
        return None
    return _schema_refusal(fmt.get("json_schema"))


def _schema_refusal(spec: Any) -> tuple[str, str] | None:
    where = "response_format.json_schema"
    if not isinstance(spec, dict):
        return where, "is required when type is json_schema"
    if not isinstance(spec.get("name"), str) or not _NAME.match(spec["name"]):
        return f"{where}.name", "must be 1-64 characters of a-z, A-Z, 0-9, _ or -"
    schema = spec.get("schema")
    if schema is None:
        return None
    if not isinstance(schema, dict):
        return f"{where}.schema", "must be a JSON Schema object"
    if spec.get("strict") is True:
        if schema.get("type") != "object":
            return f"{where}.schema", "the root of a strict schema must be an object"
        problem = _strict_problem(schema, "schema")
        if problem:
            return f"{where}.{problem[0]}", problem[1]
    return None


def schema_nodes(
    node: Any, path: str, skip: Collection[str] = ()
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every mapping in a JSON schema with its path (``a.b[0]``), depth first in document order,
    not descending into the keys in ``skip``."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if key not in skip:
                yield from schema_nodes(value, f"{path}.{key}", skip)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from schema_nodes(value, f"{path}[{index}]", skip)


def _strict_problem(schema: Any, path: str) -> tuple[str, str] | None:
    for where, node in schema_nodes(schema, path):
        if node.get("type") == "object" or "properties" in node:
            if node.get("additionalProperties") is not False:
                return where, "additionalProperties must be false in strict mode"
            missing = set(node.get("properties", {})) - set(node.get("required", []))
            if missing:
                return where, f"strict mode needs every property required: {sorted(missing)}"
    return None


def storyboard_answer(body: dict[str, Any], invalid_rounds: int) -> dict[str, Any]:
    """A deterministic storyboard from the brief in the first user message. While the
    conversation holds fewer than ``invalid_rounds`` assistant answers, the answer is invalid
    (a zero duration and an unknown key), so a caller's repair loop is exercised."""
    messages = body["messages"]
    users = [m for m in messages if m.get("role") == "user"]
    brief = _text(users[0]) if users else "untitled"
    answered = sum(1 for m in messages if m.get("role") == "assistant")
    shots, seconds = _wanted(brief)
    style = re.search(r"Visual style for every prompt: (.+)", brief)
    look = f", {style[1].strip()}" if style else ""
    words = re.findall(r"[A-Za-z]+", brief)[:6] or ["untitled"]
    board: dict[str, Any] = {
        "title": " ".join(words).capitalize(),
        "scenes": [
            {
                "id": "scene1",
                "shots": [
                    {
                        "id": f"shot{i + 1}",
                        "prompt": f"{brief.splitlines()[0][:200]}{look} (shot {i + 1} of {shots})",
                        "duration": seconds,
                    }
                    for i in range(shots)
                ],
            }
        ],
    }
    if answered < invalid_rounds:
        board["scenes"][0]["shots"][0]["duration"] = 0
        board["scenes"][0]["shots"][0]["camera"] = "dolly"
    return board


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def _wanted(brief: str) -> tuple[int, float]:
    """The shot count and length the caller's prompt asks for (``N shots``, ``S seconds``)."""
    shots = re.search(r"exactly (\d{1,2}) shots", brief)
    seconds = re.search(r"lasts (\d{1,3}(?:\.\d+)?) seconds", brief)
    return (int(shots[1]) if shots else 3), (float(seconds[1]) if seconds else 4.0)
