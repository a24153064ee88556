"""Migration 0002 (API tables) on SQLite and PostgreSQL: up, down, up, and used by the API code."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect
from starlette.responses import Response

from api import auth
from api.middleware import claim, finish
from store.db import alembic_config, migrate

API_TABLES = {"api_key", "api_tenant", "job_api", "idempotency_record", "webhook_delivery"}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    config = alembic_config(url)
    command.upgrade(config, "heads")
    assert _tables(url) >= API_TABLES
    command.downgrade(config, "0001")
    assert not API_TABLES & _tables(url)
    assert "job" in _tables(url)
    command.upgrade(config, "heads")
    assert _tables(url) >= API_TABLES


def _answer(url: str, key: str, digest: str) -> Response:
    response = claim(url, "acme", key, digest).response
    assert response is not None
    return response


def _use(url: str) -> None:
    migrate(url)
    key = auth.create_key(url, "acme")
    assert auth.tenant_for_key(url, key) == "acme"
    first = claim(url, "acme", "k", "digest")
    assert first.record_id is not None
    assert _answer(url, "k", "digest").status_code == 409
    finish(url, first.record_id, 202, "application/json", b'{"id": "x"}')
    replay = _answer(url, "k", "digest")
    assert (replay.status_code, replay.body) == (202, b'{"id": "x"}')
    assert _answer(url, "k", "other").status_code == 422


def test_sqlite_round_trip_and_use(tmp_path):
    url = f"sqlite:///{tmp_path / 'api.db'}"
    _round_trip(url)
    _use(url)


@pytest.mark.services
def test_postgres_round_trip_and_use(fresh_postgres_url):
    _round_trip(fresh_postgres_url)
    _use(fresh_postgres_url)
