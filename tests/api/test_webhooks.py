"""Outgoing webhooks: Standard Webhooks signatures, retries with backoff, the delivery log."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from adapters.webhooks import verify_standard
from tests.api.conftest import tiny_board, wait_for_job


def _deliveries(client, job_id, headers, until, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = client.get(f"/v1/jobs/{job_id}/webhooks", headers=headers).json()["data"]
        if until(rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"deliveries did not settle: {rows}")


def _settled(kinds):
    return lambda rows: (
        {r["event_type"] for r in rows} >= kinds and all(r["status"] != "pending" for r in rows)
    )


class TestWebhooks:
    def test_signed_deliveries_for_a_completed_job(self, client, headers, network):
        received: list[httpx.Request] = []

        def receive(request: httpx.Request) -> httpx.Response:
            received.append(request)
            return httpx.Response(204)

        network.routes["hooks.test"] = receive
        created = client.post(
            "/v1/jobs",
            json={"storyboard": tiny_board(2), "webhook_url": "http://hooks.test/in"},
            headers=headers,
        ).json()
        wait_for_job(client, created["id"], headers)
        rows = _deliveries(
            client,
            created["id"],
            headers,
            _settled({"job.started", "shot.accepted", "job.completed"}),
        )
        assert all(r["status"] == "delivered" and r["attempts"] == 1 for r in rows)

        secret = client.get("/v1/webhooks/secret", headers=headers).json()["secret"]
        assert secret.startswith("whsec_")
        by_type: dict[str, list[dict[str, Any]]] = {}
        for request in received:
            verify_standard(secret, request.headers, request.content)
            payload = json.loads(request.content)
            by_type.setdefault(payload["type"], []).append(payload)
        assert len(by_type["shot.accepted"]) == 2
        done = by_type["job.completed"][0]
        assert done["data"]["job"] == created["id"]
        assert "output" not in done["data"]

    def test_failed_deliveries_are_retried_with_the_same_id_then_logged(
        self, client, headers, network
    ):
        calls: list[httpx.Request] = []

        def flaky(request: httpx.Request) -> httpx.Response:
            calls.append(request)
            kind = json.loads(request.content)["type"]
            tries = sum(1 for c in calls if json.loads(c.content)["type"] == kind)
            return httpx.Response(200 if tries >= 3 else 503)

        network.routes["hooks.test"] = flaky
        created = client.post(
            "/v1/jobs",
            json={"storyboard": tiny_board(1), "webhook_url": "http://hooks.test/in"},
            headers=headers,
        ).json()
        wait_for_job(client, created["id"], headers)
        rows = _deliveries(client, created["id"], headers, _settled({"job.completed"}))
        completed = next(r for r in rows if r["event_type"] == "job.completed")
        assert (completed["status"], completed["attempts"]) == ("delivered", 3)
        ids = {c.headers["webhook-id"] for c in calls if b"job.completed" in c.content}
        assert ids == {completed["msg_id"]}

    def test_a_receiver_that_never_answers_2xx_ends_failed(self, client, headers, network):
        network.routes["hooks.test"] = lambda r: httpx.Response(500)
        created = client.post(
            "/v1/jobs",
            json={"storyboard": tiny_board(1), "webhook_url": "http://hooks.test/in"},
            headers=headers,
        ).json()
        wait_for_job(client, created["id"], headers)
        rows = _deliveries(client, created["id"], headers, _settled({"job.completed"}))
        assert {(r["status"], r["attempts"], r["last_status_code"]) for r in rows} == {
            ("failed", 4, 500)
        }
        assert all(r["last_error"] == "HTTP 500" for r in rows)


def test_celery_engine_delivers_webhooks_for_events_written_by_workers(app, ctx, headers, network):
    """Under the Celery engine the events are rows written by other processes; the API tails them."""
    from fastapi.testclient import TestClient

    from adapters.webhooks import verify_standard as verify
    from store.db import session_scope
    from store.models import Event, Job, JobApi

    ctx.settings.engine = "celery"
    received: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    network.routes["hooks.test"] = receive
    with TestClient(app) as client:
        with session_scope(ctx.db_url) as session:
            session.add(Job(id="w1", tenant="acme", title="t", mode="preview", storyboard={}))
            session.flush()
            session.add(JobApi(job_id="w1", tenant="acme", webhook_url="http://hooks.test/in"))
        with session_scope(ctx.db_url) as session:  # what a worker in another process writes
            session.add(Event(job_id="w1", kind="job.delivered", data={}))
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        secret = client.get("/v1/webhooks/secret", headers=headers).json()["secret"]
    assert len(received) == 1
    verify(secret, received[0].headers, received[0].content)
    assert json.loads(received[0].content)["type"] == "job.completed"


def _dispatchers(ctx, api_settings, network, count: int):
    from api.urls import Outbound, UrlPolicy
    from api.webhooks import WebhookDispatcher
    from tests.api.conftest import fake_resolve

    outbound = Outbound(
        UrlPolicy(frozenset(api_settings.http_hosts), frozenset(), fake_resolve),
        httpx.MockTransport(network),
    )
    return [WebhookDispatcher(ctx.db_url, outbound, api_settings) for _ in range(count)]


def _job_with_a_webhook(ctx, job_id: str) -> None:
    from store.db import session_scope
    from store.models import Job, JobApi

    with session_scope(ctx.db_url) as session:
        session.add(Job(id=job_id, tenant="acme", title="t", mode="preview", storyboard={}))
        session.flush()
        session.add(JobApi(job_id=job_id, tenant="acme", webhook_url="http://hooks.test/in"))


def _write_event(ctx, job_id: str, kind: str) -> None:
    from store.db import session_scope
    from store.models import Event

    with session_scope(ctx.db_url) as session:  # what a worker in another process writes
        session.add(Event(job_id=job_id, kind=kind, data={}))


def _receiver(received: list[httpx.Request]) -> Any:
    def receive(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    return receive


def _received_within(received: list[httpx.Request], count: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # any duplicate would come on the next tail (every second)


def test_two_api_processes_deliver_each_event_once(ctx, api_settings, network, headers):
    """Under Celery every API process tails the event rows: each recorded and sent its own
    message of every event, each with its own webhook-id, so a receiver got every event twice
    and could not tell."""
    received: list[httpx.Request] = []
    network.routes["hooks.test"] = _receiver(received)
    _job_with_a_webhook(ctx, "w2")
    first, second = _dispatchers(ctx, api_settings, network, 2)
    for dispatcher in (first, second):
        dispatcher.start(tail_rows=True)
    try:
        _write_event(ctx, "w2", "job.running")
        _write_event(ctx, "w2", "job.delivered")
        _received_within(received, 2)
    finally:
        for dispatcher in (first, second):
            dispatcher.stop()
    kinds = sorted(json.loads(r.content)["type"] for r in received)
    assert kinds == ["job.completed", "job.started"]
    assert len({r.headers["webhook-id"] for r in received}) == 2


def test_events_written_while_no_api_process_ran_are_delivered_when_one_starts(
    ctx, api_settings, network, headers
):
    """A restarted API process tailed from the newest event row: the events the workers wrote
    while it was down were never delivered."""
    received: list[httpx.Request] = []
    network.routes["hooks.test"] = _receiver(received)
    _job_with_a_webhook(ctx, "w3")
    (before,) = _dispatchers(ctx, api_settings, network, 1)
    before.start(tail_rows=True)
    try:
        _write_event(ctx, "w3", "job.running")
        _received_within(received, 1)
    finally:
        before.stop()
    _write_event(ctx, "w3", "job.delivered")  # no API process runs
    (after,) = _dispatchers(ctx, api_settings, network, 1)
    after.start(tail_rows=True)
    try:
        _received_within(received, 2)
    finally:
        after.stop()
    assert [json.loads(r.content)["type"] for r in received] == ["job.started", "job.completed"]
