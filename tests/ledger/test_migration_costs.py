"""Migration 0003_costs on SQLite (and PostgreSQL when present): up, down, up."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from store.db import alembic_config

TABLES = {"attempt_cost", "job_commit"}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    config = alembic_config(url)
    command.upgrade(config, "heads")
    assert _tables(url) >= TABLES
    command.downgrade(config, "0002")
    assert not TABLES & _tables(url)
    assert "ledger_entry" in _tables(url)
    command.upgrade(config, "heads")
    assert _tables(url) >= TABLES


def test_sqlite_round_trip(tmp_path):
    _round_trip(f"sqlite:///{tmp_path / 'costs.db'}")


@pytest.mark.services
def test_postgres_round_trip(fresh_postgres_url):
    _round_trip(fresh_postgres_url)
