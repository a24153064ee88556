"""``shotline render`` under SHOTLINE_ENGINE=celery enqueues the job and follows its event rows."""

from __future__ import annotations

import threading

from foundation.settings import get_settings
from pipeline import events
from pipeline.celery_app import CeleryRunner
from pipeline.context import RunContext
from shotline.commands.render import drive
from store.db import session_scope
from store.models import Job


def test_celery_engine_enqueues_and_follows_rows_until_done(monkeypatch):
    settings = get_settings()
    settings.engine = "celery"
    ctx = RunContext.create("local", settings)
    with session_scope(ctx.db_url) as session:
        session.add(Job(id="j1", title="t", mode="preview", storyboard={}, status="planned"))
    enqueued: list[str] = []

    def fake_workers(self, job_id: str) -> None:
        enqueued.append(job_id)

        def work() -> None:
            with session_scope(ctx.db_url) as session:
                events.emit(session, job_id, "shot.accepted", "a", model="m")
            with session_scope(ctx.db_url) as session:
                session.get_one(Job, job_id).status = "delivered"
                events.emit(session, job_id, "job.delivered")

        threading.Timer(0.2, work).start()

    monkeypatch.setattr(CeleryRunner, "__init__", lambda self, ctx: None)
    monkeypatch.setattr(CeleryRunner, "submit", fake_workers)
    heard: list[tuple[str, str | None]] = []
    drive(ctx, "j1", lambda event: heard.append((event.kind, event.shot)))
    assert enqueued == ["j1"]
    assert heard == [("shot.accepted", "a"), ("job.delivered", None)]
