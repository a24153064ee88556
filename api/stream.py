"""``GET /v1/jobs/{id}/events``: the job's event stream as Server-Sent Events.

Every event row's integer id is the SSE ``id``, so a client reconnecting with ``Last-Event-ID``
(or ``?after=``) gets exactly the events it missed. The stream ends after the job's terminal event.
New rows are announced in-process by ``pipeline.events``; a short poll covers other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import EventSourceResponse, ServerSentEvent

from api import views
from api.deps import StateDep, TenantDep
from api.errors import AUTH, responses
from api.webhooks import public_data
from foundation.states import JOB_ENDED
from pipeline import events
from store import jobs
from store.db import session_scope

router = APIRouter(prefix="/v1", tags=["jobs"])
BATCH = 200


def owned_job_id(job_id: str, state: StateDep, tenant: TenantDep) -> str:
    views.check_owned(state.db_url, tenant, job_id)
    return job_id


def _after(last_event_id: str | None, after: int | None) -> int:
    if last_event_id and last_event_id.strip().isdigit():
        return int(last_event_id.strip())
    return after or 0


def read_events(db_url: str, job_id: str, after: int) -> tuple[list[dict[str, Any]], bool]:
    """Events after ``after`` and whether the job had ended before they were read."""
    with session_scope(db_url) as session:
        ended = jobs.job_status(session, job_id) in JOB_ENDED
        rows = events.rows_after(session, after, job_id=job_id, limit=BATCH)
        return [
            {
                "id": row.id,
                "job": row.job_id,
                "kind": row.kind,
                "shot": row.shot_key,
                "data": public_data(row.data or {}),
                "created_at": views.aware(row.created_at).isoformat(),
            }
            for row in rows
        ], ended


@router.get(
    "/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    responses=responses(*AUTH, 404, 422),
    summary="The job's events as Server-Sent Events, resumable with Last-Event-ID",
)
async def job_events(
    job_id: Annotated[str, Depends(owned_job_id)],
    state: StateDep,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    after: Annotated[int | None, Query(ge=0, description="resume after this event id")] = None,
) -> AsyncIterator[ServerSentEvent]:
    last = _after(last_event_id, after)
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def hear(event: events.PipelineEvent) -> None:
        if event.job_id == job_id:
            loop.call_soon_threadsafe(wake.set)

    unsubscribe = events.subscribe(hear)
    try:
        while True:
            wake.clear()
            rows, ended = await run_in_threadpool(read_events, state.db_url, job_id, last)
            for row in rows:
                last = row["id"]
                yield ServerSentEvent(id=str(row["id"]), event=row["kind"], data=row)
            if ended and not rows:
                return
            if not rows:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=state.settings.sse_poll_s)
    finally:
        unsubscribe()
