"""Error classification at the edge and retry hints, on hand-made responses."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from adapters._http import (
    MAX_ANSWER_BYTES,
    MAX_RETRY_AFTER_S,
    AnswerTooLargeError,
    HttpClient,
    about_job,
    cap_answers,
    classify_status,
    parse_retry_after,
)
from adapters.base import GenerationRequest, JobState
from adapters.errors import (
    ERROR_KINDS,
    JobLostError,
    ProviderFailureError,
    ProviderTimeoutError,
    RateLimitedError,
    RejectedInputError,
    SafetyRefusalError,
    TransientError,
)
from adapters.kling import KlingAdapter
from adapters.runway import RunwayAdapter


def response(status: int, body: object = None, **headers: str) -> httpx.Response:
    request = httpx.Request("POST", "https://provider.test/v1/x")
    return httpx.Response(status, json=body, headers=headers, request=request)


class TestRetryAfter:
    def test_milliseconds_win_over_seconds(self):
        assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5

    def test_seconds_and_http_date(self):
        assert parse_retry_after({"retry-after": "7"}) == 7.0
        date = email.utils.formatdate(time.time() + 30, usegmt=True)
        assert parse_retry_after({"retry-after": date}) == pytest.approx(30, abs=2)

    def test_gemini_retry_info(self):
        body = {
            "error": {
                "code": 429,
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"},
                ],
            }
        }
        assert parse_retry_after({}, body) == 37.0

    def test_replicate_body_phrase_and_none(self):
        body = {"detail": "Request was throttled. Your rate limit resets in ~30s."}
        assert parse_retry_after({}, body) == 30.0
        assert parse_retry_after({}, {"detail": "slow down"}) is None

    @pytest.mark.parametrize(
        ("headers", "body", "hint"),
        [
            ({"retry-after": "foo, bar"}, None, None),  # raised ValueError out of the classifier
            ({"retry-after": "inf"}, None, None),  # the shot waited forever
            ({"retry-after": "1e400"}, None, None),
            ({"retry-after-ms": "inf"}, None, None),
            ({"retry-after": "99999999999"}, None, MAX_RETRY_AFTER_S),  # 3,000 years
            ({"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"}, None, MAX_RETRY_AFTER_S),
            ({}, {"error": {"details": [{"@type": "google.rpc.RetryInfo",
                                         "retryDelay": "99999999999999999999s"}]}}, MAX_RETRY_AFTER_S),
        ],
    )  # fmt: skip
    def test_garbage_hints_are_dropped_or_bounded(self, headers, body, hint):
        assert parse_retry_after(headers, body) == hint

    def test_a_429_with_a_garbled_retry_after_is_still_rate_limited(self):
        error = classify_status("p", response(429, {}, **{"retry-after": "soon, maybe"}))
        assert isinstance(error, RateLimitedError)


class TestClassify:
    def test_status_families(self):
        assert isinstance(classify_status("p", response(429, {})), RateLimitedError)
        assert type(classify_status("p", response(503, {}))) is TransientError
        assert isinstance(classify_status("p", response(504, {})), ProviderTimeoutError)
        assert isinstance(classify_status("p", response(400, {"error": "bad"})), RejectedInputError)

    def test_safety_words_in_a_4xx(self):
        body = {"error": {"message": "Your request was rejected by the safety system"}}
        assert isinstance(classify_status("openai", response(400, body)), SafetyRefusalError)

    def test_the_secret_never_appears_in_errors(self):
        error = classify_status("p", response(401, {"error": "bad key"}))
        assert "sk-secret" not in str(error)

    def test_kling_codes(self):
        adapter = KlingAdapter(api_key="k", base_url="http://127.0.0.1:9")
        assert isinstance(
            adapter.classify("kling", response(429, {"code": 1303})), RateLimitedError
        )
        assert isinstance(
            adapter.classify("kling", response(400, {"code": 1301})), SafetyRefusalError
        )
        balance = adapter.classify("kling", response(429, {"code": 1102, "message": "depleted"}))
        assert isinstance(balance, RejectedInputError)


def test_adapters_never_show_their_key():
    adapter = KlingAdapter(api_key="sk-secret", base_url="http://127.0.0.1:9")
    assert "sk-secret" not in repr(adapter)


def test_connection_refused_is_transient(tmp_path):
    from adapters.base import GenerationRequest

    adapter = KlingAdapter(api_key="k", base_url="http://127.0.0.1:9", timeout=1)
    request = GenerationRequest("s", "p", 5, 1280, 720, 24, "kling/kling-v3", "kling-v3")
    with pytest.raises(TransientError, match="connection failed"):
        adapter.submit(request)


def test_kling_legacy_jwt_is_minted_per_request():
    import base64
    import hashlib
    import hmac
    import json

    from adapters.kling import KlingJWT

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={"code": 0, "data": {"task_id": "t1"}})

    adapter = KlingAdapter(api_key="ak-1:sk-1", base_url="http://kling.test")
    adapter._http.client._transport = httpx.MockTransport(handler)
    from adapters.base import GenerationRequest

    request = GenerationRequest("s", "p", 5, 1280, 720, 24, "kling/v3-std", "kling-v3")
    assert adapter.submit(request) == "text2video/t1"
    token = seen[0].removeprefix("Bearer ")
    head, body, signature = token.split(".")
    expected = hmac.new(b"sk-1", f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "==") == expected
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    assert claims["iss"] == "ak-1"
    assert claims["exp"] - claims["nbf"] == 1805
    assert "sk-1" not in repr(KlingJWT("ak-1", "sk-1"))


class TestAnswerCap:
    """A provider's answer is read no further than the cap, declared or streamed."""

    @staticmethod
    def client(answer: httpx.Response, limit: int) -> httpx.Client:
        return httpx.Client(
            transport=httpx.MockTransport(lambda request: answer),
            event_hooks={"response": [cap_answers(limit)]},
        )

    def test_an_answer_declaring_more_is_refused_before_its_body(self):
        declared = httpx.Response(200, headers={"content-length": "5000"}, content=b"{}")
        with pytest.raises(AnswerTooLargeError, match=r"GET /v1/x runs 5000 bytes, over 100"):
            self.client(declared, 100).get("https://provider.test/v1/x")

    def test_a_streamed_answer_stops_at_the_cap(self):
        streamed = httpx.Response(200, content=iter([b"x" * 64] * 3))  # chunked: no length
        assert "content-length" not in streamed.headers
        with pytest.raises(AnswerTooLargeError, match="runs over 100 bytes"):
            self.client(streamed, 100).get("https://provider.test/v1/x")

    def test_an_answer_within_the_cap_is_read_whole(self):
        small = httpx.Response(200, json={"ok": True})
        assert self.client(small, 100).get("https://provider.test/v1/x").json() == {"ok": True}

    def test_a_provider_client_reports_it_as_the_providers_failure(self):
        huge = httpx.Response(200, headers={"content-length": str(MAX_ANSWER_BYTES + 1)})
        client = HttpClient(
            "fal", "https://provider.test", {}, transport=httpx.MockTransport(lambda r: huge)
        )
        with pytest.raises(ProviderFailureError, match=f"runs {MAX_ANSWER_BYTES + 1} bytes"):
            client.json("GET", "/v1/x")


@pytest.mark.parametrize(
    "output",
    [5, {"url": "https://cdn.test/a.mp4"}, "https://cdn.test/a.mp4", [5], [""]],
    ids=["number", "object", "string", "list-of-number", "empty-url"],
)
def test_a_runway_success_without_an_output_url_is_a_provider_failure(output: object):
    """A number or an object raised TypeError/KeyError out of ``poll`` (the shot then ended with
    an internal error); a string was cut to its first character and fetched as the URL."""
    task = {"id": "t", "status": "SUCCEEDED", "output": output}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=task))
    result = RunwayAdapter(api_key="k", transport=transport).poll("t")
    assert result.state is JobState.FAILED
    assert isinstance(result.error, ProviderFailureError)


@pytest.mark.parametrize("code", ["x", [1201], {"n": 1}, 1.5])
def test_a_kling_envelope_whose_code_is_not_a_number_is_a_provider_failure(code: object):
    """``int(code)`` raised ValueError/TypeError out of submit (the step crashed)."""
    envelope = {"code": code, "message": "?", "data": {"task_id": "t"}}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=envelope))
    request = GenerationRequest("a", "p", 5, 1280, 720, 24, "kling/kling-3.0", "kling-3.0")
    with pytest.raises(ProviderFailureError, match="code"):
        KlingAdapter(api_key="ak:sk", transport=transport).submit(request)


def _answering(status: int, body: object, provider: str = "runway") -> HttpClient:
    answer = httpx.Response(status, json=body)
    transport = httpx.MockTransport(lambda request: answer)
    return HttpClient(provider, "https://provider.test", {}, transport=transport)


class TestLostJobs:
    """An answer that the provider does not know a job it accepted is ``job_lost``, only about
    that job (``about_job``): on a create it keeps meaning bad input."""

    NOT_FOUND = (
        ("runway", 404, {"error": "Could not find Task"}),
        ("replicate", 404, {"detail": "The requested resource could not be found.", "status": 404}),
        ("fal", 404, {"detail": "Request not found"}),
        ("luma", 404, {"detail": "Generation not found"}),
        ("openai", 404, {"error": {"message": "Video not found", "type": "invalid_request_error"}}),
        ("google", 404, {"error": {"code": 404, "message": "gone", "status": "NOT_FOUND"}}),
        ("google", 400, {"error": {"code": 5, "message": "operation gone"}}),  # google.rpc.Code
        ("kling", 400, {"code": 1201, "message": "Task not found by id/external id"}),
        ("runway", 410, {"error": "Gone"}),
    )

    @pytest.mark.parametrize(("provider", "status", "body"), NOT_FOUND)
    def test_a_status_read_of_an_unknown_job_is_lost(self, provider, status, body):
        client = _answering(status, body, provider)
        with pytest.raises(JobLostError) as caught, about_job("job-42"):
            client.json("GET", "/v1/tasks/job-42")
        lost = caught.value
        assert (lost.kind, lost.retriable, lost.provider) == ("job_lost", True, provider)
        assert f"{provider}: job job-42 is gone" in str(lost)
        assert f"HTTP {status}" in str(lost)
        assert ERROR_KINDS["job_lost"] is JobLostError

    @pytest.mark.parametrize(("provider", "status", "body"), NOT_FOUND[:6])
    def test_the_same_answer_to_a_create_stays_rejected_input(self, provider, status, body):
        with pytest.raises(RejectedInputError) as caught:
            _answering(status, body, provider).json("POST", "/v1/tasks")
        assert caught.value.kind == "rejected_input"

    def test_other_refusals_of_a_status_read_keep_their_kind(self):
        with pytest.raises(RejectedInputError), about_job("job-42"):
            _answering(400, {"code": 1201, "message": "task_ids is invalid"}, "kling").json(
                "GET", "/tasks"
            )
        with pytest.raises(TransientError), about_job("job-42"):
            _answering(503, {"error": "shedding load"}).json("GET", "/v1/tasks/job-42")
