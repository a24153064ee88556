"""OpenAI's moderation endpoint against httpx.MockTransport: request shape, results, failures."""

from __future__ import annotations

import json

import httpx
import pytest

from adapters.errors import ProviderFailureError, RateLimitedError
from adapters.moderation import BATCH, OpenAIModeration


def _result(flagged: bool, **scores: float) -> dict[str, object]:
    names = {"violence": 0.0, "violence/graphic": 0.0, "sexual": 0.0} | {
        k.replace("_", "/"): v for k, v in scores.items()
    }
    return {
        "flagged": flagged,
        "categories": {name: score > 0.5 for name, score in names.items()},
        "category_scores": names,
        "category_applied_input_types": {name: ["text"] for name in names},
    }


def test_one_post_per_batch_with_the_model_and_the_texts_in_order() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        texts = json.loads(request.content)["input"]
        results = [
            _result("blood" in t, violence_graphic=0.9 if "blood" in t else 0.01) for t in texts
        ]
        return httpx.Response(200, json={"id": "modr-1", "model": "omni", "results": results})

    client = OpenAIModeration(
        "sk-test", "http://moderation.test/v1", transport=httpx.MockTransport(handler)
    )
    texts = [f"calm shot {i}" for i in range(BATCH + 3)]
    texts[BATCH + 1] = "blood everywhere"
    results = client.moderate(texts)
    assert [len(json.loads(r.content)["input"]) for r in seen] == [BATCH, 3]
    first = seen[0]
    assert first.method == "POST"
    assert str(first.url) == "http://moderation.test/v1/moderations"
    assert first.headers["authorization"] == "Bearer sk-test"
    assert json.loads(first.content)["model"] == "omni-moderation-latest"
    assert [r.flagged for r in results].index(True) == BATCH + 1
    assert results[BATCH + 1].top == "violence/graphic"
    assert results[BATCH + 1].scores["violence/graphic"] == pytest.approx(0.9)


def test_a_429_is_rate_limited_with_its_hint() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, headers={"retry-after": "7"}, json={"error": {"message": "slow"}}
        )

    client = OpenAIModeration(
        "k", "http://moderation.test/v1", transport=httpx.MockTransport(handler)
    )
    with pytest.raises(RateLimitedError) as caught:
        client.moderate(["a"])
    assert caught.value.retry_after == 7.0


def test_an_answer_with_the_wrong_number_of_results_is_a_failure() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "m", "model": "omni", "results": [_result(False)]})

    client = OpenAIModeration(
        "k", "http://moderation.test/v1", transport=httpx.MockTransport(handler)
    )
    with pytest.raises(ProviderFailureError, match="1 results for 2 inputs"):
        client.moderate(["a", "b"])
