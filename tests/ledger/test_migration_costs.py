"""Migration 0003_costs on SQLite (and PostgreSQL when present): up, down, up."""

from __future__ import annotations

import pytest

from tests.migrations import round_trip

TABLES = {"attempt_cost", "job_commit"}


def _round_trip(url: str) -> None:
    round_trip(url, TABLES, down_to="0002", kept="ledger_entry")


def test_sqlite_round_trip(tmp_path):
    _round_trip(f"sqlite:///{tmp_path / 'costs.db'}")


@pytest.mark.services
def test_postgres_round_trip(fresh_postgres_url):
    _round_trip(fresh_postgres_url)
