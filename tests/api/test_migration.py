"""Migration 0002 (API tables) on SQLite and PostgreSQL: up, down, up, and used by the API code."""

from __future__ import annotations

import pytest
from starlette.responses import Response

from api import auth
from api.middleware import claim, finish
from store.db import migrate
from tests.migrations import round_trip

API_TABLES = {"api_key", "api_tenant", "job_api", "idempotency_record", "webhook_delivery"}


def _round_trip(url: str) -> None:
    round_trip(url, API_TABLES, down_to="0001", kept="job")


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
