"""Vision-LLM judge clients: Gemini ``generateContent`` and any OpenAI-compatible
``chat/completions`` endpoint. Both ask for the same JSON schema (four scores in [0, 1] and
timestamped issues), return a ``JudgeResult`` with token usage and cost, and classify every failure
into ``adapters.errors``."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from adapters._http import MAX_RETRY_AFTER_S, cap_answers, parse_retry_after
from adapters.chat import chat_body, chat_message, takes_temperature
from adapters.errors import (
    ProviderFailureError,
    ProviderTimeoutError,
    RateLimitedError,
    RejectedInputError,
    SafetyRefusalError,
    TransientError,
    answer_shape,
)
from foundation.tls import tls_context

CRITERIA = ("prompt_adherence", "visual_quality", "temporal_coherence", "anatomy")
ISSUE_CATEGORIES = (*CRITERIA, "artifact", "text", "other")
JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **{name: {"type": "number", "minimum": 0, "maximum": 1} for name in CRITERIA},
        "issues": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "start_s": {"type": "number"},
                    "end_s": {"type": "number"},
                    "category": {"type": "string", "enum": list(ISSUE_CATEGORIES)},
                    "severity": {"type": "string", "enum": ["minor", "major"]},
                    "description": {"type": "string"},
                },
                "required": ["start_s", "end_s", "category", "severity", "description"],
                "additionalProperties": False,
            },
        },
    },
    "required": [*CRITERIA, "issues"],
    "additionalProperties": False,
}
INSTRUCTIONS = (
    "You are a strict quality judge for AI-generated video shots. Score each criterion from 0 (unusable)"
    " to 1 (flawless): prompt_adherence (does the shot show what the prompt asks), visual_quality"
    " (sharpness, artifacts, exposure), temporal_coherence (objects keep identity and shape, no"
    " morphing or jumps), anatomy (hands, faces, bodies are plausible; 1 if no people or animals)."
    " List concrete issues with start/end times in seconds. Answer with JSON only."
)


@dataclass(frozen=True)
class JudgeFrame:
    time_s: float
    jpeg: bytes


@dataclass(frozen=True)
class JudgeRequest:
    prompt: str | None
    duration_s: float
    frames: tuple[JudgeFrame, ...] = ()
    video: bytes | None = None
    video_mime: str = "video/mp4"


@dataclass(frozen=True)
class JudgeIssue:
    start_s: float
    end_s: float
    category: str
    severity: str
    description: str


@dataclass(frozen=True)
class JudgeResult:
    provider: str
    model: str
    scores: dict[str, float]
    issues: tuple[JudgeIssue, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    raw: Any = field(default=None, compare=False, repr=False)

    @property
    def overall(self) -> float:
        return sum(self.scores.values()) / len(self.scores) if self.scores else 0.0


class JudgeClient(Protocol):
    """Scores one clip. Raises only ``adapters.errors.ProviderError`` subclasses."""

    name: str

    def judge(self, request: JudgeRequest) -> JudgeResult: ...


def _user_text(request: JudgeRequest) -> str:
    times = ", ".join(f"{f.time_s:.2f}s" for f in request.frames)
    text = f"Prompt: {request.prompt or '(none given)'}\nClip duration: {request.duration_s:.2f}s."
    return text + (
        f"\nFrames are sampled at: {times}." if request.frames and request.video is None else ""
    )


def _retry_after(response: httpx.Response, body: Any) -> float | None:
    """The hint of the headers or of a typed ``RetryInfo`` (``parse_retry_after``: a garbled one
    is none, a huge one at most a day), else a ``retryDelay`` of any error detail."""
    hint = parse_retry_after(response.headers, body)
    if hint is not None:
        return hint
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        found = re.fullmatch(r"(\d+(?:\.\d+)?)s", delay.strip()) if isinstance(delay, str) else None
        if found:
            return min(MAX_RETRY_AFTER_S, float(found[1]))
    return None


def _raise_for_status(response: httpx.Response, provider: str) -> None:
    if response.status_code < 400:
        return
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message", str(error)) if isinstance(error, dict) else str(body)[:300]
    status = response.status_code
    if status == 429:
        raise RateLimitedError(message, provider, _retry_after(response, body), raw=body)
    if status >= 500:
        raise TransientError(f"HTTP {status}: {message}", provider, raw=body)
    raise RejectedInputError(f"HTTP {status}: {message}", provider, raw=body)


MAX_TOKENS = 10**9
"""More tokens than this in one judge call (shotline's bound) is garbage, not a count."""


def _tokens(data: dict[str, Any], key: str, fields: tuple[str, ...], provider: str) -> int:
    """The sum of the answer's token counts ``key.fields`` (a missing one is 0); a count that is
    not an integer in 0..``MAX_TOKENS`` is a provider failure, not a cost to book."""
    usage = data.get(key) or {}
    if not isinstance(usage, dict):
        raise ProviderFailureError(f"judge usage {key!r} is not an object", provider, raw=data)
    total = 0
    for name in fields:
        count = usage.get(name, 0)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count < MAX_TOKENS:
            message = f"judge usage {key}.{name} is not a token count: {str(count)[:40]!r}"
            raise ProviderFailureError(message, provider, raw=data)
        total += count
    return total


def _post(client: httpx.Client, url: str, provider: str, **kwargs: Any) -> Any:
    try:
        response = client.post(url, **kwargs)
    except httpx.TimeoutException as exc:
        raise ProviderTimeoutError(f"judge timed out: {exc}", provider) from exc
    except httpx.RequestError as exc:
        raise TransientError(f"judge unreachable: {exc}", provider) from exc
    _raise_for_status(response, provider)
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderFailureError(
            "judge answered with non-JSON", provider, raw=response.text
        ) from exc


def parse_verdict(
    text: str, provider: str, raw: Any
) -> tuple[dict[str, float], tuple[JudgeIssue, ...]]:
    """Validate the model's JSON answer; scores given on 1-10 or 0-100 scales are normalised."""
    try:
        data = json.loads(text)
        scores = {}
        for name in CRITERIA:
            value = float(data[name])
            scale = 100.0 if value > 10 else 10.0 if value > 1 else 1.0
            scores[name] = min(1.0, max(0.0, value / scale))
        issues = tuple(
            JudgeIssue(
                float(i["start_s"]),
                float(i["end_s"]),
                str(i["category"]),
                str(i.get("severity", "minor")),
                str(i["description"]),
            )
            for i in data.get("issues", [])
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ProviderFailureError(
            f"judge answer does not match the schema: {exc}", provider, raw=raw
        ) from exc
    return scores, issues


class _HttpJudge:
    name = "judge"

    def __init__(
        self,
        api_key: str,
        model: str,
        base_url: str,
        client: httpx.Client | None,
        price_in_per_mtok: float,
        price_out_per_mtok: float,
        timeout_s: float,
    ) -> None:
        self.api_key = api_key
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.client = client or httpx.Client(
            timeout=timeout_s, event_hooks={"response": [cap_answers()]}, verify=tls_context()
        )
        self.price_in = price_in_per_mtok
        self.price_out = price_out_per_mtok

    def _cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.price_in + tokens_out * self.price_out) / 1e6


class GeminiJudge(_HttpJudge):
    """``POST {base}/models/{model}:generateContent`` with the video inline (when small) or frames."""

    name = "gemini"

    def __init__(
        self,
        api_key: str,
        # gemini-2.5-flash: Gemini API shutdown 2026-06-17 (ai.google.dev/gemini-api/docs/
        # deprecations); gemini-3.8-flash: GA 2026-09-02, no shutdown announced (same page, and the
        # generate-content quickstart's model). Its per-token prices are UNCERTAIN (not found).
        model: str = "gemini-3.8-flash",
        base_url: str = "https://generativelanguage.googleapis.com/v1beta",
        client: httpx.Client | None = None,
        price_in_per_mtok: float = 0.30,
        price_out_per_mtok: float = 2.50,
        timeout_s: float = 120.0,
        max_inline_bytes: int = 15_000_000,
    ) -> None:
        super().__init__(
            api_key, model, base_url, client, price_in_per_mtok, price_out_per_mtok, timeout_s
        )
        self.max_inline_bytes = max_inline_bytes

    def body(self, request: JudgeRequest) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        if request.video is not None and len(request.video) <= self.max_inline_bytes:
            data = base64.b64encode(request.video).decode()
            parts.append({"inlineData": {"mimeType": request.video_mime, "data": data}})
        else:
            for frame in request.frames:
                parts.append({"text": f"Frame at {frame.time_s:.2f}s:"})
                data = base64.b64encode(frame.jpeg).decode()
                parts.append({"inlineData": {"mimeType": "image/jpeg", "data": data}})
        parts.append({"text": _user_text(request)})
        return {
            "systemInstruction": {"parts": [{"text": INSTRUCTIONS}]},
            "contents": [{"role": "user", "parts": parts}],
            "generationConfig": {
                "responseMimeType": "application/json",
                "responseJsonSchema": JUDGE_SCHEMA,
                # no `temperature`: deprecated for Gemini 3.6+ (Gemini API changelog 2026-07-21)
            },
        }

    def judge(self, request: JudgeRequest) -> JudgeResult:
        url = f"{self.base_url}/models/{self.model}:generateContent"
        headers = {"x-goog-api-key": self.api_key}
        data = _post(self.client, url, self.name, json=self.body(request), headers=headers)
        with answer_shape(self.name, data):
            return self._result(data)

    def _result(self, data: dict[str, Any]) -> JudgeResult:
        block = (data.get("promptFeedback") or {}).get("blockReason")
        if block:
            raise SafetyRefusalError(f"judge prompt blocked: {block}", self.name, raw=data)
        candidates = data.get("candidates") or []
        if not candidates:
            raise ProviderFailureError("judge returned no candidate", self.name, raw=data)
        candidate = candidates[0]
        if candidate.get("finishReason") in ("SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST"):
            raise SafetyRefusalError(
                f"judge refused: {candidate['finishReason']}", self.name, raw=data
            )
        parts = (candidate.get("content") or {}).get("parts") or []
        text = "".join(p.get("text", "") for p in parts if isinstance(p, dict))
        scores, issues = parse_verdict(text, self.name, data)
        tokens_in = _tokens(data, "usageMetadata", ("promptTokenCount",), self.name)
        tokens_out = _tokens(
            data, "usageMetadata", ("candidatesTokenCount", "thoughtsTokenCount"), self.name
        )
        return JudgeResult(
            self.name,
            self.model,
            scores,
            issues,
            tokens_in,
            tokens_out,
            self._cost(tokens_in, tokens_out),
            data,
        )


class OpenAICompatibleJudge(_HttpJudge):
    """``POST {base}/chat/completions`` with sampled frames as data-URL images and a json_schema."""

    name = "openai_compatible"

    def __init__(
        self,
        api_key: str,
        model: str,
        base_url: str = "https://api.openai.com/v1",
        client: httpx.Client | None = None,
        price_in_per_mtok: float = 0.40,
        price_out_per_mtok: float = 1.60,
        timeout_s: float = 120.0,
        detail: str = "low",
    ) -> None:
        super().__init__(
            api_key, model, base_url, client, price_in_per_mtok, price_out_per_mtok, timeout_s
        )
        self.detail = detail

    def body(self, request: JudgeRequest) -> dict[str, Any]:
        content: list[dict[str, Any]] = [{"type": "text", "text": _user_text(request)}]
        for frame in request.frames:
            url = "data:image/jpeg;base64," + base64.b64encode(frame.jpeg).decode()
            content.append({"type": "image_url", "image_url": {"url": url, "detail": self.detail}})
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": content},
        ]
        return chat_body(
            self.model,
            messages,
            schema_name="clip_judgement",
            schema=JUDGE_SCHEMA,
            strict=True,
            temperature=0 if takes_temperature(self.model) else None,
        )

    def judge(self, request: JudgeRequest) -> JudgeResult:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        url = f"{self.base_url}/chat/completions"
        data = _post(self.client, url, self.name, json=self.body(request), headers=headers)
        with answer_shape(self.name, data):
            return self._result(data)

    def _result(self, data: dict[str, Any]) -> JudgeResult:
        message = chat_message(data, self.name, "judge", "judge")
        scores, issues = parse_verdict(message.get("content") or "", self.name, data)
        tokens_in = _tokens(data, "usage", ("prompt_tokens",), self.name)
        tokens_out = _tokens(data, "usage", ("completion_tokens",), self.name)
        return JudgeResult(
            self.name,
            self.model,
            scores,
            issues,
            tokens_in,
            tokens_out,
            self._cost(tokens_in, tokens_out),
            data,
        )


__all__ = [
    "CRITERIA",
    "JUDGE_SCHEMA",
    "GeminiJudge",
    "JudgeClient",
    "JudgeFrame",
    "JudgeIssue",
    "JudgeRequest",
    "JudgeResult",
    "OpenAICompatibleJudge",
    "parse_verdict",
]
