"""Outgoing webhooks, signed with the Standard Webhooks scheme, retried with backoff, logged per job.

Pipeline events (heard in-process after their commit) become messages for jobs that have a
``webhook_url``: ``job.started``, ``shot.accepted``, ``shot.failed``, ``job.completed``,
``job.failed``, ``job.cancelled``. Each message is a ``webhook_delivery`` row before it is sent, so
a restarted process resumes pending deliveries. Retries keep the ``webhook-id`` and re-sign with a
fresh timestamp; a 2xx ends it, a 410 stops it, anything else retries until the attempts run out.

Under the Celery engine the events are rows that every API process tails: a row's message is
``msg_evt_<row id>``, recorded once whichever process sees it first (the id is unique), each try
is claimed by one process (``attempt``), and a process starting again tails from the newest row
a message was made of, so events written while no API process ran are delivered then.
"""

from __future__ import annotations

import heapq
import json
import logging
import queue
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters.webhooks import standard_headers
from api import auth
from api.config import ApiSettings
from api.urls import Outbound, UnsafeUrlError
from pipeline import events
from store.db import session_scope
from store.models import Event, JobApi, WebhookDelivery

log = logging.getLogger(__name__)

EVENT_TYPES = {
    "job.running": "job.started",
    "shot.accepted": "shot.accepted",
    "shot.cached": "shot.accepted",
    "shot.failed": "shot.failed",
    "job.delivered": "job.completed",
    "job.failed": "job.failed",
    "job.cancelled": "job.cancelled",
}
MAX_RESPONSE_BYTES = 64 * 1024
ROW_MESSAGE = "msg_evt_"
TAIL_BACKLOG = 10_000
"""At most this many event rows before the newest are read again when a process starts."""


def _tail_from(session: Session) -> int:
    """The event row after which a starting process tails: the newest one a message was made of
    (so the events written while no API process ran are delivered now), at most
    ``TAIL_BACKLOG`` rows back; the newest row when none was (history is not replayed)."""
    newest = session.scalar(select(func.coalesce(func.max(Event.id), 0))) or 0
    last = session.scalar(
        select(WebhookDelivery.msg_id)
        .where(WebhookDelivery.msg_id.like(f"{ROW_MESSAGE}%"))
        .order_by(WebhookDelivery.id.desc())
        .limit(1)
    )
    if last is None or not last[len(ROW_MESSAGE) :].isdigit():
        return int(newest)
    return max(int(last[len(ROW_MESSAGE) :]), int(newest) - TAIL_BACKLOG)


def public_data(data: dict[str, Any]) -> dict[str, Any]:
    """Event data without server-side file paths."""
    return {k: v for k, v in data.items() if k not in ("output", "path") and "path" not in k}


def message(event: events.PipelineEvent) -> dict[str, Any]:
    return {
        "type": EVENT_TYPES[event.kind],
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "data": {"job": event.job_id, "shot": event.shot, **public_data(event.data)},
    }


class WebhookDispatcher:
    def __init__(self, db_url: str, outbound: Outbound, settings: ApiSettings) -> None:
        self.db_url = db_url
        self.outbound = outbound
        self.settings = settings
        self._inbox: queue.Queue[tuple[events.PipelineEvent, int | None] | None] = queue.Queue()
        self._due: list[tuple[float, int]] = []
        self._cond = threading.Condition()
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="webhook")
        self._threads: list[threading.Thread] = []
        self._unsubscribe: Any = None
        self._stopping = False

    def start(self, *, tail_rows: bool = False) -> None:
        """Deliver webhooks for pipeline events heard in this process; with ``tail_rows`` (the
        Celery engine, where workers in other processes emit them) from the event rows instead,
        which hold every event, this process's included, exactly once."""
        loops = [self._record_loop, self._schedule_loop]
        if tail_rows:
            # the starting point is read now, not when the thread first runs: rows written in
            # between would otherwise count as already seen and never be delivered
            with session_scope(self.db_url) as session:
                seen = _tail_from(session)
            loops.append(partial(self._tail_loop, seen))
        else:
            self._unsubscribe = events.subscribe(self._hear)
        # the deliveries left pending before this start, scheduled before the loops record new
        # ones: read after, a delivery just recorded was scheduled twice, and its second entry
        # claimed the next try while the first was sending (one event delivered twice)
        self._resume()
        for target in loops:
            thread = threading.Thread(target=target, daemon=True, name="webhooks")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._stopping = True
        for _ in self._threads:  # one end mark per loop: an app served twice started two
            self._inbox.put(None)
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _hear(self, event: events.PipelineEvent) -> None:
        if event.kind in EVENT_TYPES:
            self._inbox.put((event, None))

    def _tail_loop(self, seen: int, every_s: float = 1.0) -> None:
        """Feed event rows after id ``seen`` (written by workers) into the inbox."""
        while not self._stopping:
            try:
                with session_scope(self.db_url) as session:
                    rows = events.rows_after(session, seen, kinds=EVENT_TYPES)
                    fresh = [(events.as_event(row), row.id) for row in rows]
                    seen = max([seen, *(r.id for r in rows)])
            except Exception:
                log.exception("could not read new pipeline events")
                fresh = []
            for heard in fresh:
                self._inbox.put(heard)
            time.sleep(every_s)

    def _record_loop(self) -> None:
        while (heard := self._inbox.get()) is not None:
            event, row_id = heard
            try:
                delivery_id = self._record(event, row_id)
            except IntegrityError:  # another API process recorded this row's message first
                continue
            except Exception:
                log.exception("could not record a webhook for job %s", event.job_id)
                continue
            if delivery_id is not None:
                self._schedule(delivery_id, time.monotonic())

    def _record(self, event: events.PipelineEvent, row_id: int | None = None) -> int | None:
        with session_scope(self.db_url) as session:
            info = session.get(JobApi, event.job_id)
            if info is None or not info.webhook_url:
                return None
            delivery = WebhookDelivery(
                job_id=event.job_id,
                tenant=info.tenant,
                msg_id=f"{ROW_MESSAGE}{row_id}" if row_id else f"msg_{uuid.uuid4().hex}",
                event_type=EVENT_TYPES[event.kind],
                url=info.webhook_url,
                payload=message(event),
                next_attempt_at=datetime.now(UTC),
            )
            session.add(delivery)
            session.flush()
            return delivery.id

    def _resume(self) -> None:
        with session_scope(self.db_url) as session:
            pending = list(
                session.scalars(
                    select(WebhookDelivery.id).where(WebhookDelivery.status == "pending")
                )
            )
        for delivery_id in pending:
            self._schedule(delivery_id, time.monotonic())

    def _schedule(self, delivery_id: int, due: float) -> None:
        with self._cond:
            heapq.heappush(self._due, (due, delivery_id))
            self._cond.notify()

    def _schedule_loop(self) -> None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                if self._due and self._due[0][0] <= now:
                    _, delivery_id = heapq.heappop(self._due)
                    self._pool.submit(self._attempt_safely, delivery_id)
                    continue
                timeout = self._due[0][0] - now if self._due else None
                self._cond.wait(timeout)

    def _attempt_safely(self, delivery_id: int) -> None:
        try:
            retry_in = self.attempt(delivery_id)
        except Exception:
            log.exception("webhook delivery %s crashed", delivery_id)
            return
        if retry_in is not None and not self._stopping:
            self._schedule(delivery_id, time.monotonic() + retry_in)

    def backoff(self, attempts: int) -> float:
        base = self.settings.webhook_backoff_s * 2 ** max(0, attempts - 1)
        return float(min(self.settings.webhook_backoff_max_s, base))

    def attempt(self, delivery_id: int) -> float | None:
        """Send one delivery once; returns the seconds until its retry, or None when it is done
        (or another API process claimed this try: it sends it, and schedules its retry)."""
        with session_scope(self.db_url) as session:
            delivery = session.get_one(WebhookDelivery, delivery_id)
            if delivery.status != "pending":
                return None
            url, msg_id, payload = delivery.url, delivery.msg_id, delivery.payload
            tenant, tried = delivery.tenant, delivery.attempts
            claimed = session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.attempts == tried)
                .values(attempts=tried + 1)
            )
            if getattr(claimed, "rowcount", 0) != 1:
                return None
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = standard_headers(auth.webhook_secret(self.db_url, tenant), body, msg_id)
        headers["content-type"] = "application/json"
        code, error = self._send(url, body, headers)
        with session_scope(self.db_url) as session:
            delivery = session.get_one(WebhookDelivery, delivery_id)
            delivery.last_status_code, delivery.last_error = code, error
            if code is not None and 200 <= code < 300:
                delivery.status, delivery.next_attempt_at = "delivered", None
                return None
            if code == 410 or delivery.attempts >= self.settings.webhook_attempts:
                delivery.status, delivery.next_attempt_at = "failed", None
                return None
            delay = self.backoff(delivery.attempts)
            delivery.next_attempt_at = datetime.now(UTC) + timedelta(seconds=delay)
            return delay

    def _send(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, str | None]:
        try:
            got = self.outbound.request(
                "POST",
                url,
                path="webhook_url",
                content=body,
                headers=headers,
                max_bytes=MAX_RESPONSE_BYTES,
            )
        except UnsafeUrlError as exc:
            return None, exc.problems[0].message
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        error = None if 200 <= got.status_code < 300 else f"HTTP {got.status_code}"
        return got.status_code, error
