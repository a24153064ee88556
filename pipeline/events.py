"""The pipeline's one event stream: every event is a row (for the API and resume) and is also
published in-process, after its transaction commits, to listeners such as the CLI's progress view."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Event


@dataclass(frozen=True)
class PipelineEvent:
    job_id: str
    kind: str
    shot: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[PipelineEvent], None]


def rows_after(
    session: Session,
    after: int,
    *,
    job_id: str | None = None,
    kinds: Collection[str] | None = None,
    limit: int | None = None,
) -> list[Event]:
    """Event rows with an id above ``after``, oldest first: how readers in other processes (SSE,
    webhooks and ``render`` under the Celery engine) follow the stream."""
    query = select(Event).where(Event.id > after).order_by(Event.id).limit(limit)
    if job_id is not None:
        query = query.where(Event.job_id == job_id)
    if kinds is not None:
        query = query.where(Event.kind.in_(list(kinds)))
    return list(session.scalars(query))


def as_event(row: Event) -> PipelineEvent:
    return PipelineEvent(row.job_id, row.kind, row.shot_key, dict(row.data or {}))


_listeners: list[Listener] = []
_lock = threading.Lock()


def subscribe(listener: Listener) -> Callable[[], None]:
    """Add a listener; returns a function that removes it."""
    with _lock:
        _listeners.append(listener)

    def unsubscribe() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return unsubscribe


def emit(session: Session, job_id: str, kind: str, shot: str | None = None, **data: Any) -> None:
    """Record an event in ``session``; listeners hear it once the session commits."""
    session.add(Event(job_id=job_id, shot_key=shot, kind=kind, data=data))
    session.info.setdefault("pending_events", []).append(PipelineEvent(job_id, kind, shot, data))


@sa_event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    pending: list[PipelineEvent] = session.info.pop("pending_events", [])
    with _lock:
        listeners = list(_listeners)
    for item in pending:
        for listener in listeners:
            listener(item)


@sa_event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop("pending_events", None)
