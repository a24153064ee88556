"""Idempotency-Key replays: the first response is stored before its last byte is sent."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from starlette.types import Message, Receive, Scope, Send

from api import middleware as middleware_module
from api.middleware import PENDING_LEASE_S, IdempotencyMiddleware, claim
from pipeline.context import RunContext
from store.db import migrate, session_scope
from store.models import IdempotencyRecord
from tests import web
from tests.api.conftest import tiny_board

PAIRS = 200


def test_an_immediate_replay_is_always_the_stored_response(live_url, headers):
    """The finding: about 2% of immediate sequential replays got 409 "still runs", because the
    record was marked done only after the response had reached the client."""
    body = {"storyboard": tiny_board(1)}
    outcomes = []
    with httpx.Client(base_url=live_url, headers=headers, timeout=10, verify=web.TLS) as http:
        for i in range(PAIRS):
            keyed = {"Idempotency-Key": f"pair-{i}"}
            first = http.post("/v1/jobs:plan", json=body, headers=keyed)
            again = http.post("/v1/jobs:plan", json=body, headers=keyed)
            replayed = again.headers.get("idempotent-replayed")
            same = again.content == first.content
            outcomes.append((first.status_code, again.status_code, replayed, same))
    failed = [(i, o) for i, o in enumerate(outcomes) if o != (200, 200, "true", True)]
    assert not failed, f"{len(failed)} of {PAIRS} replays differ: {failed[:5]}"


def _app(parts: list[bytes]):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        start = {"type": "http.response.start", "status": 201}
        await send({**start, "headers": [(b"content-type", b"text/plain")]})
        for index, part in enumerate(parts):
            more = index < len(parts) - 1
            await send({"type": "http.response.body", "body": part, "more_body": more})

    return app


def _record(db_url: str) -> tuple[str, str | None]:
    with session_scope(db_url) as session:
        row = session.scalars(select(IdempotencyRecord)).one()
        return row.status, row.body


async def _post(middleware: IdempotencyMiddleware, db_url: str) -> list[tuple[Message, object]]:
    """The messages the client receives, each with the stored record at the moment it is sent."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/things",
        "query_string": b"",
        "headers": [(b"authorization", b"Bearer sl_x"), (b"idempotency-key", b"k1")],
    }
    sent: list[tuple[Message, object]] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append((message, await asyncio.to_thread(_record, db_url)))

    await middleware(scope, receive, send)
    return sent


@pytest.mark.parametrize("parts", [[b'{"id": 1}'], [b"one,", b"two,", b"three"]])
def test_the_record_is_complete_before_the_last_chunk_is_sent(ctx: RunContext, key, parts):
    """JSON (one body message) and streamed bodies alike."""
    middleware = IdempotencyMiddleware(
        _app(parts), db_url=lambda: ctx.db_url, tenant_of=lambda scope, token: "acme"
    )
    first = asyncio.run(_post(middleware, ctx.db_url))
    last_message, stored_then = first[-1]
    assert last_message.get("more_body", False) is False
    assert stored_then == ("done", b"".join(parts).decode())
    assert [m["body"] for m, _ in first[1:]] == parts
    again = asyncio.run(_post(middleware, ctx.db_url))
    assert again[0][0]["status"] == 201
    assert (b"idempotent-replayed", b"true") in again[0][0]["headers"]
    assert b"".join(m.get("body", b"") for m, _ in again[1:]) == b"".join(parts)


def test_a_key_whose_first_request_died_unanswered_is_taken_over_after_its_lease(
    ctx: RunContext,
):
    """A server killed mid-request leaves its key ``pending`` with no answer to record: every
    retry got 409 "still runs" (``retriable``) forever. Now the 409 says when the key is free
    (``Retry-After``), and the first retry past the lease runs the request, once."""
    _taken_over_after_its_lease(ctx.db_url)


@pytest.mark.services
def test_the_lease_on_postgres(fresh_postgres_url: str):
    """The take-over matches the record by its ``created_at`` as the database returned it."""
    migrate(fresh_postgres_url)
    _taken_over_after_its_lease(fresh_postgres_url)


def _taken_over_after_its_lease(db_url: str) -> None:
    first = claim(db_url, "acme", "big-1", "digest")
    assert first.record_id is not None
    waiting = claim(db_url, "acme", "big-1", "digest").response
    assert waiting is not None
    assert waiting.status_code == 409
    assert 0 < int(waiting.headers["retry-after"]) <= PENDING_LEASE_S
    assert json.loads(bytes(waiting.body))["retriable"] is True
    with session_scope(db_url) as session:
        record = session.get_one(IdempotencyRecord, first.record_id)
        record.created_at = record.created_at - timedelta(seconds=PENDING_LEASE_S + 1)
    taken = claim(db_url, "acme", "big-1", "digest")
    assert taken.record_id == first.record_id
    again = claim(db_url, "acme", "big-1", "digest").response
    assert again is not None
    assert again.status_code == 409, "the retry that took the key over runs it alone"


def test_a_request_running_past_the_lease_keeps_its_key(ctx: RunContext, monkeypatch):
    """A running request renews its record: a draft's rounds can outlast any fixed lease, and a
    retry that took the key over would have run (and paid for) it twice."""
    # a 1 s lease renewed every 0.1 s: a 0.3 s one lapsed between two renewals under CPU load
    monkeypatch.setattr(middleware_module, "RENEW_S", 0.1)
    monkeypatch.setattr(middleware_module, "PENDING_LEASE_S", 1.0)

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await asyncio.sleep(2.5)
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}", "more_body": False})

    middleware = IdempotencyMiddleware(
        slow, db_url=lambda: ctx.db_url, tenant_of=lambda scope, token: "acme"
    )

    async def first_and_a_retry() -> int:
        running = asyncio.create_task(_post(middleware, ctx.db_url))
        await asyncio.sleep(1.5)  # past the lease, which the running request renewed
        retry = await asyncio.to_thread(claim, ctx.db_url, "acme", "k1", _stored_digest(ctx))
        await running
        assert retry.response is not None, "the retry took over a running request's key"
        return retry.response.status_code

    assert asyncio.run(first_and_a_retry()) == 409


def _stored_digest(ctx: RunContext) -> str:
    with session_scope(ctx.db_url) as session:
        return session.scalars(select(IdempotencyRecord.request_hash)).one()
