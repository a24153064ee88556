"""Migration 0003_distributed on SQLite and PostgreSQL: up, down, up, then used by the cursors."""

from __future__ import annotations

import pytest

from pipeline import steps
from pipeline.steps import ABSENT, Move
from store.db import migrate, session_scope
from store.models import Job
from tests.migrations import round_trip


def _round_trip_and_use(url: str) -> None:
    round_trip(url, {"pipeline_step"}, down_to="0002", kept="job")
    migrate(url)
    with session_scope(url) as session:
        session.add(Job(id="j1", title="t", mode="preview", storyboard={}))
    start = Move("job:j1", "j1", "start", "j1", when=frozenset({ABSENT}))
    assert steps.apply(url, None, [start], 1.0)[0].version == 1
    assert steps.apply(url, None, [start], 1.0) == []  # the row exists now: not created twice
    held = steps.claim(url, "start", "j1", 1, 30.0, "w|1")
    assert held is not None
    assert steps.claim(url, "start", "j1", 1, 30.0, "w|2") is None


class TestMigration:
    def test_sqlite(self, tmp_path):
        _round_trip_and_use(f"sqlite:///{tmp_path / 'm.db'}")

    @pytest.mark.services
    def test_postgres(self, fresh_postgres_url):
        _round_trip_and_use(fresh_postgres_url)
