"""ASGI middleware: request body size limits and ``Idempotency-Key`` replay for POSTs.

A POST with an ``Idempotency-Key`` is recorded (per tenant and key) before it runs; a retry with
the same key and the same request gets the first response back (``Idempotent-Replayed: true``)
and never runs again; the same key with a different request is a 422, and a retry while the first
is still running a 409 (a first request whose record went unrenewed for ``PENDING_LEASE_S``,
its server killed, is taken over by the retry). Responses of 5xx, 401 and 429 are not kept, so those can be retried. The
record is complete before the last chunk of the first response is sent, so a client that replays
as soon as it has its answer never meets a 409.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
from collections.abc import Callable

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body, error_response
from api.views import aware
from store.db import session_scope
from store.models import IdempotencyRecord, utcnow

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 200
NOT_KEPT = {401, 429}
PENDING_LEASE_S = 120.0
"""How long a key's first request may go without renewing its record before a retry takes the key
over: a running request renews it every ``RENEW_S`` (a draft's rounds can run past fifteen
minutes), so only one whose server died (no answer will ever be recorded) is run again."""
RENEW_S = 30.0


class BodyLimitMiddleware:
    """413 for a request body over ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        too_large = error_response(
            413,
            error_body("payload_too_large", f"the request body is over {self.max_bytes} bytes"),
        )
        if declared.isdigit() and int(declared) > self.max_bytes:
            await too_large(scope, receive, send)
            return
        seen = 0
        exceeded = started = False

        async def limited() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                started = True
                await too_large(scope, receive, send)
            if exceeded:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, guarded)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await too_large(scope, receive, send)


def _bearer(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class SecurityHeadersMiddleware:
    """``X-Content-Type-Options: nosniff`` on every answer (an error that echoes input is never
    sniffed as HTML); on the API docs pages, where keys are pasted into Swagger UI's "Authorize",
    no framing (clickjacking) and no Referer. The review and dashboard pages set their own."""

    FRAMELESS = ("/docs", "/redoc")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        frameless = str(scope.get("path", "")).startswith(self.FRAMELESS)

        async def headed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-content-type-options", "nosniff")
                if frameless:
                    headers.setdefault("x-frame-options", "DENY")
                    headers.setdefault("content-security-policy", "frame-ancestors 'none'")
                    headers.setdefault("referrer-policy", "no-referrer")
            await send(message)

        await self.app(scope, receive, headed)


class _Claim:
    """Outcome of claiming a key: run the request (``record_id``) or answer now (``response``)."""

    def __init__(self, record_id: int | None = None, response: Response | None = None) -> None:
        self.record_id = record_id
        self.response = response


def claim(db_url: str, tenant: str, key: str, digest: str) -> _Claim:
    try:
        with session_scope(db_url) as session:
            record = IdempotencyRecord(tenant=tenant, key=key, request_hash=digest)
            session.add(record)
            session.flush()
            return _Claim(record_id=record.id)
    except IntegrityError:
        pass
    with session_scope(db_url) as session:
        found = session.scalars(
            select(IdempotencyRecord).where(
                IdempotencyRecord.tenant == tenant, IdempotencyRecord.key == key
            )
        ).one()
        if found.request_hash != digest:
            body = error_body("idempotency_key_reused", "this key was used for another request")
            return _Claim(response=error_response(422, body))
        if found.status != "done" or found.status_code is None:
            return _pending(session, found)
        return _Claim(response=_replay(found))


def _pending(session: Session, found: IdempotencyRecord) -> _Claim:
    """A key whose first request has no answer yet: still running (409, retriable, with the
    seconds until its lease ends as ``Retry-After``), or, its lease unrenewed for
    ``PENDING_LEASE_S``, a request whose server stopped without answering (``kill -9``): taken
    over, once, by this request."""
    age = (utcnow() - aware(found.created_at)).total_seconds()
    if age >= PENDING_LEASE_S:
        taken = session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.id == found.id,
                IdempotencyRecord.status == "pending",
                IdempotencyRecord.created_at == found.created_at,
            )
            .values(created_at=utcnow())
        )
        if getattr(taken, "rowcount", 0) == 1:
            return _Claim(record_id=found.id)
    wait = max(1, math.ceil(PENDING_LEASE_S - age))
    body = error_body(
        "idempotency_key_in_use",
        "the first request with this key still runs (if its server stopped, the key is free "
        f"again in {wait} s)",
        retriable=True,
    )
    return _Claim(response=error_response(409, body, headers={"Retry-After": str(wait)}))


def _replay(found: IdempotencyRecord) -> Response:
    return Response(
        (found.body or "").encode(),
        status_code=found.status_code or 200,
        media_type=found.content_type,
        headers={"Idempotent-Replayed": "true"},
    )


def finish(db_url: str, record_id: int, status: int, content_type: str | None, body: bytes) -> None:
    with session_scope(db_url) as session:
        if status >= 500 or status in NOT_KEPT:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
            return
        record = session.get_one(IdempotencyRecord, record_id)
        record.status, record.status_code = "done", status
        record.content_type, record.body = content_type, body.decode("utf-8", "replace")


class IdempotencyMiddleware:
    """``tenant_of(scope, key)`` names the key's tenant (None: unknown, or not to be looked up);
    it runs on a worker thread."""

    def __init__(
        self,
        app: ASGIApp,
        db_url: Callable[[], str],
        tenant_of: Callable[[Scope, str], str | None],
    ) -> None:
        self.app = app
        self.db_url = db_url
        self.tenant_of = tenant_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get("idempotency-key")
        token = _bearer(headers)
        if key is None or not token:
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH:
            body = error_body("invalid_input", f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} chars")
            await error_response(422, body)(scope, receive, send)
            return
        db_url = self.db_url()
        tenant = await run_in_threadpool(self.tenant_of, scope, token)
        if tenant is None:
            await self.app(scope, receive, send)
            return
        payload, messages = await _drain(receive)
        if messages[-1]["type"] == "http.disconnect":
            await self.app(scope, _replayer(messages, receive), send)
            return
        digest = _digest(scope, payload)
        claimed = await run_in_threadpool(claim, db_url, tenant, key, digest)
        if claimed.response is not None:
            await claimed.response(scope, receive, send)
            return
        assert claimed.record_id is not None
        await self._run(scope, _replayer(messages, receive), send, db_url, claimed.record_id)

    async def _run(
        self, scope: Scope, replay: Receive, send: Send, db_url: str, record_id: int
    ) -> None:
        status, content_type = 500, None
        chunks: list[bytes] = []
        recorded = False

        async def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            body = b"".join(chunks)
            try:
                await run_in_threadpool(finish, db_url, record_id, status, content_type, body)
            except Exception:
                log.exception("idempotency record %s could not be completed", record_id)

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = Headers(raw=message.get("headers", [])).get("content-type")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await record()  # complete before the last byte leaves: a replay finds it
            await send(message)

        renewing = asyncio.create_task(_renew_while_running(db_url, record_id))
        try:
            await self.app(scope, replay, capture)
        finally:
            renewing.cancel()
            await record()


async def _renew_while_running(db_url: str, record_id: int) -> None:
    """Renew the record's lease every ``RENEW_S`` until cancelled (a failed renewal is logged:
    the lease then ends ``PENDING_LEASE_S`` after the last one)."""
    while True:
        await asyncio.sleep(RENEW_S)
        try:
            await run_in_threadpool(renew, db_url, record_id)
        except Exception:
            log.warning("idempotency record %s: its lease could not be renewed", record_id)


def renew(db_url: str, record_id: int) -> None:
    with session_scope(db_url) as session:
        session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == record_id, IdempotencyRecord.status == "pending")
            .values(created_at=utcnow())
        )


def _replayer(messages: list[Message], receive: Receive) -> Receive:
    """Hand the already-read body to the app again, then the real channel (for disconnects)."""
    queue = list(messages)

    async def replay() -> Message:
        return queue.pop(0) if queue else await receive()

    return replay


async def _drain(receive: Receive) -> tuple[bytes, list[Message]]:
    messages, parts = [], []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts), messages


def _digest(scope: Scope, body: bytes) -> str:
    head = json.dumps([scope["method"], scope["path"], scope.get("query_string", b"").decode()])
    return hashlib.sha256(head.encode() + b"\n" + body).hexdigest()
