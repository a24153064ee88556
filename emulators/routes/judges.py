"""The two AI-judge APIs: Gemini ``generateContent`` and OpenAI-compatible ``chat/completions``.

The answer is JSON shaped by the request's own schema when it sends one (``responseJsonSchema`` /
``responseSchema`` / ``response_format.json_schema.schema``), filled with scores in [0, 1] for
``prompt_adherence``, ``visual_quality``, ``temporal_coherence``, ``anatomy`` and an ``issues`` list
with timestamps. Scores follow the frames the request sends (``_judge_view``: black, blank and
frozen frames score low), overridable per judge model in the scenario.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from emulators.routes import _flow as flow
from emulators.routes._judge_view import stills_of, view
from emulators.scenario import JudgeProfile
from emulators.wire import fault_response, respond

SCORES = ("prompt_adherence", "visual_quality", "temporal_coherence", "anatomy")
_TIME_KEYS = ("t", "t_s", "time", "time_s", "timestamp", "timestamp_s", "start", "start_s", "at_s")
_END_KEYS = ("end", "end_s", "end_time", "end_t")
_TEXT_KEYS = ("description", "message", "text", "detail", "reason", "summary", "explanation")
_KIND_KEYS = ("kind", "category", "type", "dimension", "label")


def judge_answer(profile: JudgeProfile, raw: bytes) -> dict[str, Any]:
    """Scores and issues for one judge call (canonical keys), from the frames the request carries
    (``_judge_view``); the scenario's judge profile overrides scores, and its issues replace the
    seen ones when it lists any."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    scores, issues = view(stills_of(body))
    scores.update(profile.scores)
    if profile.issues:
        issues = [dict(issue) for issue in profile.issues]
    return {**scores, "issues": issues}


def fill_schema(schema: Any, answer: dict[str, Any]) -> Any:
    """Build a value matching a JSON Schema (or OpenAPI subset) from the canonical answer."""
    if not isinstance(schema, dict) or not schema.get("properties"):
        return answer
    out: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        out[name] = _value(name, prop if isinstance(prop, dict) else {}, answer)
    return out


def _value(name: str, prop: dict[str, Any], answer: dict[str, Any]) -> Any:
    kind = str(prop.get("type", "")).lower()
    if name in answer and kind != "array":
        return answer[name]
    if prop.get("enum"):
        return prop["enum"][0]
    if kind in ("number", "integer"):
        mean = sum(float(answer[s]) for s in SCORES) / len(SCORES)
        return round(mean, 3) if kind == "number" else round(mean * 10)
    if kind == "boolean":
        return False
    if kind == "array":
        found = prop.get("items")
        items: dict[str, Any] = found if isinstance(found, dict) else {}
        return [_issue(issue, items) for issue in answer.get("issues", [])]
    if kind == "object":
        return fill_schema(prop, answer)
    return answer.get(name, "emulated judge")


def _issue(issue: dict[str, Any], schema: dict[str, Any]) -> Any:
    props = schema.get("properties")
    if not isinstance(props, dict):
        return issue.get("description", issue)
    out: dict[str, Any] = {}
    for key, prop in props.items():
        kind = str((prop or {}).get("type", "")).lower() if isinstance(prop, dict) else ""
        if key in issue:
            out[key] = issue[key]
        elif key in _TIME_KEYS:
            out[key] = float(issue.get("t", 0.0))
        elif key in _END_KEYS:
            out[key] = float(issue.get("end", issue.get("t", 0.0)))
        elif key in _TEXT_KEYS:
            out[key] = str(issue.get("description", "emulated issue"))
        elif key in _KIND_KEYS:
            out[key] = str(issue.get("kind", "visual_quality"))
        elif kind in ("number", "integer"):
            out[key] = 0.5
        else:
            out[key] = "minor" if key == "severity" else ""
    return out


async def admit_call(request: Request, provider: str, model: str, raw: bytes) -> tuple[Any, bool]:
    """Apply submit faults; return (early response or fault-for-body, refused-for-safety)."""
    emu = flow.emulator(request)
    prompt = raw.decode(errors="ignore")
    attempt, fault = emu.admit(provider, model, raw, prompt, judge=True)
    if fault is not None:
        answer = await fault_response(provider, fault)
        if answer is not None:
            return answer, False
    refused = emu.job_fault(provider, model, attempt, prompt) == "safety_refusal"
    return fault, refused


async def gemini_generate(
    request: Request, model: str, raw: bytes, body: dict[str, Any]
) -> Response:
    gate, refused = await admit_call(request, "google", model, raw)
    if isinstance(gate, Response):
        return gate
    usage = {"promptTokenCount": len(raw) // 4, "candidatesTokenCount": 60}
    if refused:
        return respond({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage}, gate)
    config = body.get("generationConfig") or {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    profile = flow.emulator(request).profile("google", model).judge
    text = json.dumps(fill_schema(schema, judge_answer(profile, raw)))
    candidate = {
        "content": {"role": "model", "parts": [{"text": text}]},
        "finishReason": "STOP",
        "index": 0,
    }
    answer = {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model}
    return respond(answer, gate)


async def openai_chat(request: Request, raw: bytes, body: dict[str, Any]) -> Response:
    model = str(body.get("model", "gpt-judge"))
    gate, refused = await admit_call(request, "openai", model, raw)
    if isinstance(gate, Response):
        return gate
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if refused:
        message["refusal"] = "I can't help with that request."
    else:
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema") if isinstance(fmt, dict) else None
        profile = flow.emulator(request).profile("openai", model).judge
        message["content"] = json.dumps(fill_schema(schema, judge_answer(profile, raw)))
    answer = {
        "id": f"chatcmpl-{hashlib.sha256(raw).hexdigest()[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": len(raw) // 4, "completion_tokens": 60, "total_tokens": 0},
    }
    return respond(answer, gate)
