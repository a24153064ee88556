"""Under the Celery engine a broker that cannot be reached is named before any job is made
(``render``, ``serve``), its password hidden; and a job the API accepts while the broker is down is
answered 503 ``broker_unavailable``, retriable. Before, ``render`` made its job, then ended in
kombu's ``OperationalError`` traceback, and the API answered 500."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from api import auth
from api.app import create_app
from api.config import ApiSettings
from foundation.settings import Settings, get_settings
from pipeline.celery_app import CeleryRunner
from pipeline.context import RunContext
from shotline.cli import app
from store.db import session_scope
from store.models import Job
from tests.api.conftest import free_port, tiny_board

EXAMPLE = Path(__file__).parents[2] / "examples" / "one-shot.yaml"


@pytest.fixture
def dead_broker(monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"redis://shot:hunter2@127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("SHOTLINE_ENGINE", "celery")
    monkeypatch.setenv("SHOTLINE_BROKER_URL", url)
    get_settings.cache_clear()
    return url


@pytest.mark.timeout(60)  # the code before served on, or rendered, with no end
@pytest.mark.parametrize(
    "args",
    [
        ["render", str(EXAMPLE), "-o", "{tmp}/out.mp4", "--providers", "local"],
        ["serve", "--port", "0", "--providers", "local"],
    ],
)
def test_a_broker_that_cannot_be_reached_is_named_before_any_job(
    dead_broker: str, tmp_path: Path, args: list[str]
) -> None:
    result = CliRunner().invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    said = " ".join(result.output.split())
    assert result.exit_code == 1, said
    port = dead_broker.rsplit(":", 1)[1].split("/")[0]
    assert f"error: the broker redis://shot:**@127.0.0.1:{port}/0 (SHOTLINE_BROKER_URL)" in said
    assert "cannot be reached" in said
    assert "hunter2" not in said
    with session_scope(get_settings().db_url) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0
    assert not (tmp_path / "out.mp4").exists()


def test_a_job_posted_while_the_broker_is_down_is_503(dead_broker: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", engine="celery", broker_url=dead_broker)
    ctx = RunContext.create("local", settings)
    headers = {"Authorization": f"Bearer {auth.create_key(ctx.db_url, 'acme')}"}
    api = create_app(ctx, settings=ApiSettings())
    api.state.api.runner = CeleryRunner(ctx)
    with TestClient(api, raise_server_exceptions=False) as client:
        answer = client.post("/v1/jobs", json={"storyboard": tiny_board()}, headers=headers)
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert (body["error"], body["retriable"]) == ("broker_unavailable", True)
    assert "127.0.0.1" not in answer.text, "the broker's address is not a client's business"
