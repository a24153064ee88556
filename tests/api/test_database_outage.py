"""While the API's PostgreSQL is unreachable (a restart, a failover, a cut network) requests are
answered 503 ``database_unavailable`` with ``Retry-After``, a status clients and load balancers
retry, not 500 ``internal``; ``/readyz`` says so; and once the database is back the same process
answers again with nothing lost (the pool's pre-ping replaces the dead connections)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import auth
from api.app import create_app
from api.config import ApiSettings
from foundation.settings import Settings
from pipeline.context import RunContext
from tests.relay import CuttableLink


def test_requests_while_the_database_is_unreachable_are_503_and_recover(
    fresh_postgres_url: str, link: CuttableLink, tmp_path: Path
) -> None:
    relayed = fresh_postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{link.port}")
    ctx = RunContext.create("local", Settings(data_dir=tmp_path / "data", database_url=relayed))
    key = auth.create_key(ctx.db_url, "acme")
    headers = {"Authorization": f"Bearer {key}"}
    app = create_app(ctx, settings=ApiSettings())
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/v1/jobs", headers=headers).status_code == 200

        link.cut()
        for path in ("/v1/jobs", "/v1/costs"):
            answer = client.get(path, headers=headers)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.headers["Retry-After"] == "5"
            body = answer.json()
            assert (body["error"], body["retriable"]) == ("database_unavailable", True)
            assert "127.0.0.1" not in answer.text, "no connection detail reaches a client"
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("unavailable")

        link.mend()
        answer = client.get("/v1/jobs", headers=headers)
        assert answer.status_code == 200, answer.text
        assert client.get("/readyz").status_code == 200


def test_readyz_under_the_celery_engine_asks_the_broker(app, ctx):
    """It answered 503 "this process runs the embedded engine, not celery" whatever the broker
    did, so a load balancer never sent the API of a Celery deployment a request."""
    ctx.settings.engine = "celery"
    ctx.settings.broker_url = "redis://127.0.0.1:9/0"  # nothing listens there
    with TestClient(app) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    engine = ready.json()["checks"]["engine"]
    assert engine.startswith("unavailable: the broker redis://")
    assert "127.0.0.1:9/0 (SHOTLINE_BROKER_URL) cannot be reached" in engine
    assert "embedded" not in engine


@pytest.mark.services
def test_readyz_under_the_celery_engine_is_ready_with_its_broker(app, ctx, redis_url):
    ctx.settings.engine = "celery"
    ctx.settings.broker_url = redis_url
    with TestClient(app) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "engine": "ok"}
