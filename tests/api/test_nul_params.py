"""A NUL (``%00``) in a path or query parameter is a 422 naming the parameter, on both databases.

PostgreSQL refuses U+0000 in any text it is sent: before, these lookups answered 500 with
``retriable: true`` there (and 404 or 200 on SQLite).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from foundation.settings import get_settings
from pipeline.context import RunContext
from store.db import migrate
from tests.api.conftest import tiny_board, wait_for_job


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def ctx(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunContext]:
    if request.param == "postgres":
        url = request.getfixturevalue("fresh_postgres_url")
        monkeypatch.setenv("SHOTLINE_DATABASE_URL", url)
        get_settings.cache_clear()
        migrate(url)
    yield RunContext.create("local")
    get_settings.cache_clear()


PROBES = [
    ("/v1/jobs/a%00b", "job_id"),
    ("/v1/jobs?status=%00", "status"),
    ("/v1/jobs?cursor=a%00", "cursor"),
    ("/v1/jobs/{job}/shots/a%00/asset", "shot_id"),
    ("/v1/jobs/{job}/shots/a%00/thumb", "shot_id"),
    ("/v1/dashboard/jobs/a%00", "job_id"),
]


def test_a_nul_in_a_parameter_is_a_422_naming_it(client: TestClient, headers: dict[str, str]):
    created = client.post("/v1/jobs", json={"storyboard": tiny_board(1)}, headers=headers)
    assert created.status_code == 202, created.text[:300]
    job = created.json()["id"]
    wait_for_job(client, job, headers)
    for url, name in PROBES:
        response = client.get(url.format(job=job), headers=headers)
        assert response.status_code == 422, (url, response.text[:300])
        problems = response.json()["problems"]
        assert [p["path"] for p in problems] == [name], (url, problems)
        assert "NUL" in problems[0]["message"]
