"""The job repository: tenant scoping, deletion, listing order and pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from foundation.settings import get_settings
from store import jobs
from store.db import session_scope
from store.models import Job, Shot


def _add(session, job_id: str, tenant: str, minutes: int) -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    job = Job(id=job_id, tenant=tenant, title=job_id, mode="preview", storyboard={},
              created_at=created)  # fmt: skip
    shots = [Shot(key=key, scene_id="s", position=n) for n, key in enumerate(("b", "a"))]
    jobs.add_job(session, job, shots)
    jobs.add_api_record(session, job_id, tenant, source="jobs", webhook_url=None)


def test_jobs_are_scoped_to_their_tenant_and_hidden_once_deleted():
    url = get_settings().db_url
    with session_scope(url) as session:
        _add(session, "j1", "acme", 1)
        _add(session, "j2", "acme", 2)
        _add(session, "j3", "other", 3)
    with session_scope(url) as session:
        assert [s.key for s in jobs.shots_of(session, "j1")] == ["b", "a"]
        assert jobs.tenant_job(session, "other", "j1") is None
        assert jobs.find_job(session, "x" * 40) is None
        newest = jobs.list_jobs(session, "acme", limit=1)
        assert [j.id for j in newest] == ["j2"]
        assert [j.id for j in jobs.list_jobs(session, "acme", limit=5, after=newest[0])] == ["j1"]
        assert [j.id for j in jobs.list_jobs(session, None, limit=5)] == ["j3", "j2", "j1"]
        jobs.mark_deleted(session, "j2", datetime.now(UTC))
    with session_scope(url) as session:
        assert jobs.tenant_job(session, "acme", "j2") is None
        job = jobs.tenant_job(session, "acme", "j1")
        assert job is not None
        assert [j.id for j in jobs.list_jobs(session, "acme", limit=5)] == ["j1"]
