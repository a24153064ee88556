"""``shotline serve`` on a port another server holds ends before it touches any job."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from foundation.settings import get_settings
from pipeline.context import RunContext
from pipeline.planning import create_job
from store.db import migrate, session_scope
from store.models import Event, Job
from tests.pipeline.conftest import shot, tiny_board


def _state(db_url: str, job_id: str) -> tuple[str, int]:
    with session_scope(db_url) as session:
        status = session.get_one(Job, job_id).status
        events = session.scalar(
            select(func.count()).select_from(Event).where(Event.job_id == job_id)
        )
    return status, int(events or 0)


def test_a_taken_port_is_named_and_no_job_is_resumed(tmp_path: Path) -> None:
    """Before, the second server resumed the unfinished jobs, said it served, then failed to
    bind (uvicorn's exit 3) and stopped the jobs it had started."""
    ctx = RunContext.create("local", get_settings())
    migrate(ctx.db_url)
    job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "o.mp4")
    before = _state(ctx.db_url, job_id)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        argv = [sys.executable, "-m", "shotline", "serve", "--port", str(port),
                "--providers", "local"]  # fmt: skip
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, env=dict(os.environ)
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"error: cannot serve on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "shotline API on" not in done.stdout + done.stderr
    assert _state(ctx.db_url, job_id) == before


@pytest.mark.parametrize(
    ("args", "option", "why"),
    [
        (["serve", "--port", "99999"], "--port", "less than or equal to 65535"),
        (["emulate", "--port", "-1"], "--port", "greater than or equal to 0"),
        (["worker", "--loglevel", "verbose"], "--loglevel", "'verbose' is not one of 'debug'"),
        (["worker", "--concurrency", "0"], "--concurrency", "greater than or equal to 1"),
    ],
)
def test_option_values_no_server_can_use_are_usage_errors(args, option, why):
    """Each was a traceback, exit 1 (``OverflowError: bind(): port must be 0-65535``; Celery's
    ``BadParameter`` after the worker printed its start), or a worker of no processes."""
    from typer.testing import CliRunner

    from shotline.cli import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"Invalid value for '{option}'" in result.output
    assert why in result.output


def test_emulate_says_error_as_every_command_does(tmp_path):
    """Its refusals were printed bare, without the ``error:`` every other command starts with."""
    from typer.testing import CliRunner

    from shotline.cli import app

    missing = tmp_path / "nope.yaml"
    result = CliRunner().invoke(app, ["emulate", "--scenario", str(missing)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: cannot read scenario {missing}")
