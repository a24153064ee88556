"""Migration 0003_distributed on SQLite and PostgreSQL: up, down, up, then used by the cursors."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from pipeline import steps
from pipeline.steps import ABSENT, Move
from store.db import alembic_config, migrate, session_scope
from store.models import Job


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _round_trip_and_use(url: str) -> None:
    config = alembic_config(url)
    command.upgrade(config, "heads")
    assert "pipeline_step" in _tables(url)
    command.downgrade(config, "0002")
    assert "pipeline_step" not in _tables(url)
    assert "job" in _tables(url)
    command.upgrade(config, "heads")
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
