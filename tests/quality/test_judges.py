"""The VLM judge clients against httpx.MockTransport: request shape, parsing, cost, error taxonomy."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from adapters.errors import (
    ProviderFailureError,
    ProviderTimeoutError,
    RateLimitedError,
    RejectedInputError,
    SafetyRefusalError,
    TransientError,
)
from adapters.judges import CRITERIA, GeminiJudge, JudgeFrame, JudgeRequest, OpenAICompatibleJudge

ANSWER = {
    "prompt_adherence": 0.9,
    "visual_quality": 0.8,
    "temporal_coherence": 0.7,
    "anatomy": 1.0,
    "issues": [
        {
            "start_s": 0.5,
            "end_s": 1.0,
            "category": "anatomy",
            "severity": "major",
            "description": "six fingers",
        }
    ],
}
REQUEST = JudgeRequest(
    "a cat on a sofa", 2.0, (JudgeFrame(0.0, b"\xff\xd8jpeg0"), JudgeFrame(1.0, b"\xff\xd8jpeg1"))
)


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def _gemini_ok(seen: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {
            "candidates": [
                {"content": {"parts": [{"text": json.dumps(ANSWER)}]}, "finishReason": "STOP"}
            ],
            "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 200},
        }
        return httpx.Response(200, json=body)

    return handler


class TestGemini:
    def test_request_shape_and_parsed_result(self) -> None:
        seen: list[httpx.Request] = []
        judge = GeminiJudge(
            "k3y",
            model="gemini-3.8-flash",
            client=_client(_gemini_ok(seen)),
            price_in_per_mtok=0.3,
            price_out_per_mtok=2.5,
        )
        result = judge.judge(REQUEST)
        sent = json.loads(seen[0].content)
        assert seen[0].url.path == "/v1beta/models/gemini-3.8-flash:generateContent"
        assert seen[0].headers["x-goog-api-key"] == "k3y"
        config = sent["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert set(config["responseJsonSchema"]["required"]) == {*CRITERIA, "issues"}
        images = [p for p in sent["contents"][0]["parts"] if "inlineData" in p]
        assert base64.b64decode(images[1]["inlineData"]["data"]) == b"\xff\xd8jpeg1"
        assert result.scores["temporal_coherence"] == 0.7
        assert result.overall == pytest.approx(0.85)
        assert result.issues[0].description == "six fingers"
        assert result.cost_usd == pytest.approx((1000 * 0.3 + 200 * 2.5) / 1e6)

    def test_small_video_is_sent_inline(self) -> None:
        seen: list[httpx.Request] = []
        judge = GeminiJudge("k", client=_client(_gemini_ok(seen)))
        judge.judge(JudgeRequest("p", 2.0, REQUEST.frames, video=b"mp4bytes"))
        parts = json.loads(seen[0].content)["contents"][0]["parts"]
        assert parts[0]["inlineData"] == {
            "mimeType": "video/mp4",
            "data": base64.b64encode(b"mp4bytes").decode(),
        }

    @pytest.mark.parametrize(
        ("status", "body", "headers", "error"),
        [
            (
                429,
                {"error": {"code": 429, "message": "quota", "details": [{"retryDelay": "7s"}]}},
                {},
                RateLimitedError,
            ),
            (503, {"error": {"message": "overloaded"}}, {}, TransientError),
            (400, {"error": {"message": "bad schema"}}, {}, RejectedInputError),
            (403, {"error": {"message": "key"}}, {}, RejectedInputError),
        ],
    )
    def test_http_errors_are_classified(
        self, status: int, body: Any, headers: dict[str, str], error: type
    ) -> None:
        judge = GeminiJudge(
            "k", client=_client(lambda r: httpx.Response(status, json=body, headers=headers))
        )
        with pytest.raises(error) as caught:
            judge.judge(REQUEST)
        if isinstance(caught.value, RateLimitedError):
            assert caught.value.retry_after == 7.0

    def test_safety_block(self) -> None:
        body = {"promptFeedback": {"blockReason": "SAFETY"}}
        judge = GeminiJudge("k", client=_client(lambda r: httpx.Response(200, json=body)))
        with pytest.raises(SafetyRefusalError):
            judge.judge(REQUEST)

    def test_answer_off_schema(self) -> None:
        body = {"candidates": [{"content": {"parts": [{"text": '{"visual_quality": 1}'}]}}]}
        judge = GeminiJudge("k", client=_client(lambda r: httpx.Response(200, json=body)))
        with pytest.raises(ProviderFailureError, match="schema"):
            judge.judge(REQUEST)

    def test_timeout_and_connection_errors(self) -> None:
        def timeout(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("slow", request=request)

        def refused(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        with pytest.raises(ProviderTimeoutError):
            GeminiJudge("k", client=_client(timeout)).judge(REQUEST)
        with pytest.raises(TransientError):
            GeminiJudge("k", client=_client(refused)).judge(REQUEST)


class TestOpenAICompatible:
    def test_request_shape_and_parsed_result(self) -> None:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            ten_scale = {**ANSWER, "visual_quality": 8}
            return httpx.Response(
                200,
                json={
                    "choices": [
                        {"message": {"content": json.dumps(ten_scale)}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 500, "completion_tokens": 100},
                },
            )

        judge = OpenAICompatibleJudge(
            "sk",
            "gpt-4.1-mini",
            base_url="http://judge.local/v1",
            client=_client(handler),
            price_in_per_mtok=0.4,
            price_out_per_mtok=1.6,
        )
        result = judge.judge(REQUEST)
        sent = json.loads(seen[0].content)
        assert str(seen[0].url) == "http://judge.local/v1/chat/completions"
        assert seen[0].headers["authorization"] == "Bearer sk"
        assert sent["response_format"]["type"] == "json_schema"
        assert sent["response_format"]["json_schema"]["strict"] is True
        urls = [
            c["image_url"]["url"]
            for c in sent["messages"][1]["content"]
            if c["type"] == "image_url"
        ]
        assert urls[0].startswith("data:image/jpeg;base64,")
        assert result.scores["visual_quality"] == pytest.approx(0.8)
        assert result.cost_usd == pytest.approx((500 * 0.4 + 100 * 1.6) / 1e6)

    def test_rate_limit_with_retry_after_header(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                429,
                json={"error": {"message": "slow down", "code": "rate_limit_exceeded"}},
                headers={"retry-after": "3"},
            )

        with pytest.raises(RateLimitedError) as caught:
            OpenAICompatibleJudge("sk", "m", client=_client(handler)).judge(REQUEST)
        assert caught.value.retry_after == 3.0

    @pytest.mark.parametrize(
        ("body", "headers"),
        [
            ({"error": "slow down"}, {}),  # raised AttributeError
            ({"error": {"message": "q"}}, {"retry-after-ms": "soon"}),  # raised ValueError
            ({"error": {"details": [{"retryDelay": "soons"}]}}, {}),  # raised ValueError
            ({"error": {"details": [{"retryDelay": "1e999s"}]}}, {}),  # waited forever (inf)
        ],
        ids=["error-string", "ms-garbled", "delay-garbled", "delay-inf"],
    )
    def test_a_garbled_rate_limit_is_still_rate_limited(
        self, body: Any, headers: dict[str, str]
    ) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(429, json=body, headers=headers)

        with pytest.raises(RateLimitedError) as caught:
            OpenAICompatibleJudge("sk", "m", client=_client(handler)).judge(REQUEST)
        assert caught.value.retry_after is None

    @pytest.mark.parametrize(
        "usage",
        [
            {"prompt_tokens": None, "completion_tokens": 1},  # raised TypeError
            {"prompt_tokens": "many", "completion_tokens": 1},  # raised ValueError
            {"prompt_tokens": -1_000_000_000, "completion_tokens": 1},  # booked a negative cost
            {"prompt_tokens": 10**30, "completion_tokens": 1},  # the booking raised
            [500, 100],  # raised AttributeError
        ],
        ids=["null", "text", "negative", "huge", "list"],
    )
    def test_garbage_usage_is_a_provider_failure(self, usage: Any) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            choice = {"message": {"content": json.dumps(ANSWER)}, "finish_reason": "stop"}
            return httpx.Response(200, json={"choices": [choice], "usage": usage})

        with pytest.raises(ProviderFailureError, match="usage"):
            OpenAICompatibleJudge("sk", "m", client=_client(handler)).judge(REQUEST)

    def test_refusal(self) -> None:
        body = {
            "choices": [
                {"message": {"content": None, "refusal": "cannot help"}, "finish_reason": "stop"}
            ]
        }
        judge = OpenAICompatibleJudge(
            "sk", "m", client=_client(lambda r: httpx.Response(200, json=body))
        )
        with pytest.raises(SafetyRefusalError):
            judge.judge(REQUEST)

    def test_non_json_body(self) -> None:
        judge = OpenAICompatibleJudge(
            "sk", "m", client=_client(lambda r: httpx.Response(200, text="<html>"))
        )
        with pytest.raises(ProviderFailureError):
            judge.judge(REQUEST)
