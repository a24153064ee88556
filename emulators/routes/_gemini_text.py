"""What the Gemini API's ``POST /v1beta/models/{model}:generateContent`` refuses for text models,
and the emulated LLM's storyboard draft through it (when the response schema is a storyboard's).

Rules and sources (checked 2026-12-05):
- [SDK] google-genai 3.6.1 (installed) ``types.py`` ``GenerateContentConfig``:
  ``response_json_schema`` "If set, ``response_schema`` must be omitted, but
  ``response_mime_type`` is required"; "If ``$ref`` is set on a sub-schema, no other properties,
  except for those starting as a ``$``, may be set"; unsupported JSON Schema keywords "may be
  sent" (not refused: [3P] vercel/ai#18325, 2026-08-10, found ``minLength`` "silently ignored").
  ``response_schema`` "If set, a compatible response_mime_type must also be set"; it is the
  ``Schema`` proto (an OpenAPI subset): a field the proto lacks is refused as Google's JSON parser
  refuses any, 400 "Invalid JSON payload received. Unknown name \"$schema\" at
  'generation_config.response_schema': Cannot find field." ([3P] QuantumNous/new-api#1037,
  2025-05-07; pizza-bot-app/pizza-bot#62, 2026-09-07). The fields: the SDK's ``Schema`` class.
  ``response_mime_type``: "Supported mimetype: text/plain (default), application/json" (the API
  also takes ``text/x.enum`` for enum answers: ai.google.dev structured-output guide as
  remembered, UNCERTAIN); another: 400 INVALID_ARGUMENT (the wording here is UNCERTAIN).
- No or empty ``contents``: 400 "* GenerateContentRequest.contents: contents is not specified"
  ([3P] langchain-ai/langchain-google#1393, 2025-11-29, "400 - contents is not specified").
- A model the API does not serve: 404 NOT_FOUND "models/X is not found for API version v1beta, or
  is not supported for generateContent. ..." (the shape of ``emulators.routes.google.not_found``).
  Served: ``TEXT_MODELS`` and the scenario's models (the judge tests name theirs there).
- Statuses: ai.google.dev/gemini-api/docs/troubleshooting (stored copy read 2026-12-05): 400
  INVALID_ARGUMENT for a malformed body, 403 PERMISSION_DENIED, 404 NOT_FOUND, 429
  RESOURCE_EXHAUSTED. The wording of the refusals marked UNCERTAIN is ours; status and shape
  (``{"error": {code, message, status}}``) are Google's.
"""

from __future__ import annotations

import json
from typing import Any

from emulators.routes import _chat_rules as chat_rules

TEXT_MODELS = (
    "gemini-3.5-flash-lite",
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "gemini-3.8-flash",
    "gemini-flash-latest",
)
MIME_TYPES = ("text/plain", "application/json", "text/x.enum")
SCHEMA_FIELDS = frozenset(
    {
        "additionalProperties", "defs", "ref", "anyOf", "default", "description", "enum",
        "example", "format", "items", "maxItems", "maxLength", "maxProperties", "maximum",
        "minItems", "minLength", "minProperties", "minimum", "nullable", "pattern", "properties",
        "propertyOrdering", "required", "title", "type",
    }
)  # fmt: skip
_NESTED = ("items", "additionalProperties")


def not_found(model: str) -> str:
    return (
        f"models/{model} is not found for API version v1beta, or is not supported for"
        " generateContent. Call ListModels to see the list of available models and their"
        " supported methods."
    )


def refusal(body: dict[str, Any]) -> str | None:
    """The message of the first rule a generateContent request breaks (answered 400), else None."""
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    config = body.get("generationConfig") or {}
    mime = config.get("responseMimeType")
    if mime is not None and mime not in MIME_TYPES:
        return (
            f"* GenerateContentRequest.generation_config.response_mime_type: {mime!r} is not"
            f" supported; allowed mimetypes are {', '.join(MIME_TYPES)}"
        )
    json_schema, schema = config.get("responseJsonSchema"), config.get("responseSchema")
    if json_schema is not None and schema is not None:
        return "response_schema and response_json_schema cannot both be set"
    if (json_schema is not None or schema is not None) and mime != "application/json":
        return "response_mime_type must be application/json when a response schema is set"
    if json_schema is not None:
        return _ref_sibling(json_schema, "generation_config.response_json_schema")
    if schema is not None:
        return _unknown_field(schema, "generation_config.response_schema")
    return None


def _ref_sibling(schema: Any, path: str) -> str | None:
    values = ("enum", "required", "propertyOrdering")  # lists of values, not schemas
    for where, node in chat_rules.schema_nodes(schema, path, skip=values):
        others = sorted(k for k in node if not str(k).startswith("$")) if "$ref" in node else []
        if others:
            return (
                f"Invalid JSON schema at '{where}': a sub-schema with $ref may set no other"
                f" properties except those starting with $ (found {', '.join(others)})"
            )
    return None


def _unknown_field(node: Any, path: str) -> str | None:
    if not isinstance(node, dict):
        return None
    for key, value in node.items():
        if key not in SCHEMA_FIELDS:
            return f"Invalid JSON payload received. Unknown name {json.dumps(key)} at '{path}': Cannot find field."
        subs: list[tuple[str, Any]] = []
        if key in ("properties", "defs") and isinstance(value, dict):
            subs = [(f"{path}.{key}[{name!r}]", sub) for name, sub in value.items()]
        elif key in _NESTED:
            subs = [(f"{path}.{key}", value)]
        elif key == "anyOf" and isinstance(value, list):
            subs = [(f"{path}.any_of[{i}]", sub) for i, sub in enumerate(value)]
        for where, sub in subs:
            found = _unknown_field(sub, where)
            if found:
                return found
    return None


def wants_storyboard(body: dict[str, Any]) -> bool:
    """Whether the request's response schema describes a storyboard (a root with ``scenes``)."""
    config = body.get("generationConfig") or {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    return isinstance(schema, dict) and "scenes" in (schema.get("properties") or {})


def storyboard_text(body: dict[str, Any], invalid_rounds: int) -> str:
    """The emulated LLM's storyboard (``_chat_rules.storyboard_answer``) for native contents:
    ``model`` turns count as the assistant's answers."""
    messages = [
        {
            "role": "assistant" if content.get("role") == "model" else "user",
            "content": "".join(
                str(p.get("text", "")) for p in content.get("parts") or [] if isinstance(p, dict)
            ),
        }
        for content in body["contents"]
        if isinstance(content, dict)
    ]
    return json.dumps(chat_rules.storyboard_answer({"messages": messages}, invalid_rounds))
