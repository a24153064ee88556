"""Incoming provider webhooks: verified, recorded on their attempt, and waking its poller."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from sqlalchemy import select

from adapters.webhooks import fal_headers, standard_headers
from api.jwks import FalKeys
from pipeline import wakeups
from store.db import session_scope
from store.models import Attempt, Event, Job, Shot

SECRET = "whsec_ZW11bGF0b3Itd2ViaG9vay1zZWNyZXQtMDAwMDA="


@pytest.fixture
def waiting_attempt(ctx):
    """An attempt rendering at a provider, as the pipeline leaves it before its next poll."""

    def make(provider: str, provider_job_id: str) -> int:
        with session_scope(ctx.db_url) as session:
            session.add(Job(id=f"job-{provider}", title="t", mode="preview", storyboard={}))
            session.flush()
            shot = Shot(job_id=f"job-{provider}", key="a", scene_id="s", position=0)
            session.add(shot)
            session.flush()
            attempt = Attempt(shot_id=shot.id, number=1, model_id="m", provider=provider,
                              status="rendering", provider_job_id=provider_job_id)  # fmt: skip
            session.add(attempt)
            session.flush()
            return attempt.id

    return make


@pytest.fixture
def woken():
    """The attempt ids webhooks woke, in order."""
    seen: list[int] = []
    stop = wakeups.listen(seen.append)
    yield seen
    stop()


def _keys(*keys):
    async def load(url):
        return list(keys)

    return load


def _webhook_events(ctx) -> list[Event]:
    with session_scope(ctx.db_url) as session:
        return list(session.scalars(select(Event).where(Event.kind == "attempt.webhook")))


class TestStandardWebhooks:
    def test_signed_replicate_delivery_wakes_the_poller(self, client, ctx, waiting_attempt, woken):
        ctx.settings.replicate_webhook_secret = SecretStr(SECRET)
        attempt_id = waiting_attempt("replicate", "pred-123")
        body = json.dumps({"id": "pred-123", "status": "succeeded"}).encode()
        answer = client.post("/v1/providers/replicate/webhook", content=body,
                             headers=standard_headers(SECRET, body, msg_id="msg_1"))  # fmt: skip
        assert answer.status_code == 204
        assert [e.shot_key for e in _webhook_events(ctx)] == ["a"]
        assert woken == [attempt_id]

    def test_bad_signature_is_refused_and_changes_nothing(
        self, client, ctx, waiting_attempt, woken
    ):
        ctx.settings.replicate_webhook_secret = SecretStr(SECRET)
        waiting_attempt("replicate", "pred-9")
        body = json.dumps({"id": "pred-9"}).encode()
        headers = standard_headers("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB", body, msg_id="m")
        answer = client.post("/v1/providers/replicate/webhook", content=body, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"]
        assert _webhook_events(ctx) == []
        assert woken == []

    def test_provider_without_a_configured_secret_is_refused(self, client, ctx):
        body = b'{"data": {"id": "video_1"}}'
        answer = client.post("/v1/providers/openai/webhook", content=body,
                             headers=standard_headers(SECRET, body, msg_id="m"))  # fmt: skip
        assert answer.status_code == 401

    def test_unknown_job_is_404(self, client, ctx):
        ctx.settings.gemini_webhook_secret = SecretStr(SECRET)
        body = b'{"name": "models/veo/operations/nope"}'
        answer = client.post("/v1/providers/google/webhook", content=body,
                             headers=standard_headers(SECRET, body, msg_id="m"))  # fmt: skip
        assert answer.status_code == 404


class TestFalWebhooks:
    def test_ed25519_delivery_matches_the_queue_request(
        self, app, client, ctx, waiting_attempt, woken
    ):
        key = Ed25519PrivateKey.generate()
        app.state.api.fal_keys = FalKeys(load=_keys(key.public_key()))
        attempt_id = waiting_attempt("fal", "fal-ai/veo3/fast/requests/req-77")
        body = json.dumps({"request_id": "req-77", "status": "OK", "payload": {}}).encode()
        answer = client.post("/v1/providers/fal/webhook", content=body,
                             headers=fal_headers(key, "req-77", "user-1", body))  # fmt: skip
        assert answer.status_code == 204
        assert woken == [attempt_id]

    def test_a_request_id_is_matched_literally_not_as_a_pattern(
        self, app, client, ctx, waiting_attempt, woken
    ):
        """``%`` and ``_`` in a delivered request id are characters, not SQL wildcards: a signed
        delivery wakes only the attempt whose request it names."""
        key = Ed25519PrivateKey.generate()
        app.state.api.fal_keys = FalKeys(load=_keys(key.public_key()))
        waiting_attempt("fal", "fal-ai/veo3/fast/requests/req-77")
        for request_id in ("%", "req-7_"):
            body = json.dumps({"request_id": request_id, "status": "OK"}).encode()
            answer = client.post("/v1/providers/fal/webhook", content=body,
                                 headers=fal_headers(key, request_id, "user-1", body))  # fmt: skip
            assert answer.status_code == 404, (request_id, answer.text)
        assert woken == []

    def test_a_body_that_is_not_utf8_is_a_404_not_a_500(self, app, client, ctx):
        key = Ed25519PrivateKey.generate()
        app.state.api.fal_keys = FalKeys(load=_keys(key.public_key()))
        body = b'{"request_id": "' + bytes([0xFF, 0xFE]) + b'"}'
        answer = client.post("/v1/providers/fal/webhook", content=body,
                             headers=fal_headers(key, "req-1", "user-1", body))  # fmt: skip
        assert answer.status_code == 404, answer.text
        assert "names no job" in answer.json()["detail"]

    def test_signature_from_another_key_is_refused(self, app, client, ctx, waiting_attempt):
        trusted, forger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        app.state.api.fal_keys = FalKeys(load=_keys(trusted.public_key()))
        waiting_attempt("fal", "fal-ai/x/requests/req-1")
        body = b'{"request_id": "req-1"}'
        answer = client.post("/v1/providers/fal/webhook", content=body,
                             headers=fal_headers(forger, "req-1", "user-1", body))  # fmt: skip
        assert answer.status_code == 401


def test_pipeline_asks_providers_to_call_back_when_reachable(ctx):
    from pipeline.requests import WEBHOOK_PROVIDERS, request_record
    from store.records import RouteCandidate

    ctx.settings.public_url = "https://video.example.com/"
    job = Job(id="j", title="t", mode="preview",
              storyboard={"scenes": [{"id": "s", "shots": [{"id": "a", "prompt": "p", "duration": 2}]}]})  # fmt: skip
    shot = Shot(job_id="j", key="a", scene_id="s", position=0, route={})
    candidate = RouteCandidate.from_json(
        {"model_id": "replicate/veo-3.1-fast", "provider": "replicate", "provider_model": "x",
         "duration_s": 2.0, "width": 320, "height": 180, "fps": 24.0, "audio": False})  # fmt: skip
    no_session: Any = None  # a shot without a keyframe stage reads nothing more
    request = request_record(ctx, no_session, job, shot, candidate, 1)
    assert "replicate" in WEBHOOK_PROVIDERS
    assert (
        request["extra"]["webhook_url"]
        == "https://video.example.com/v1/providers/replicate/webhook"
    )
    assert request["extra"]["attempt_key"] == "j-a-1"


def test_provider_that_sends_no_webhooks_is_422(client):
    answer = client.post("/v1/providers/runway/webhook", content=b"{}")
    assert answer.status_code == 422


def test_unreachable_fal_keys_refuse_the_delivery(client, ctx, waiting_attempt):
    ctx.settings.fal_jwks_url = (
        "http://127.0.0.1:9/jwks.json"  # nothing listens on the discard port
    )
    waiting_attempt("fal", "fal-ai/x/requests/req-2")
    body = b'{"request_id": "req-2"}'
    headers = fal_headers(Ed25519PrivateKey.generate(), "req-2", "user-1", body)
    answer = client.post("/v1/providers/fal/webhook", content=body, headers=headers)
    assert answer.status_code == 401
    assert "signing keys" in answer.json()["detail"]
