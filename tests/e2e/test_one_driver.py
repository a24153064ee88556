"""One process drives a job (``pipeline.driver``): the same ``shotline render`` started again while
the first runs, ``jobs resume`` of its job and ``serve``'s resumption at start leave it to the
process that runs it, and nothing of it fails.

Before, the second render resumed the job beside the first: its own emulator did not know the
first's provider jobs, found them gone and failed two paid attempts, whose shots were rendered
again (and its new jobs got the ids the first emulator had given other shots)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from foundation.settings import Settings
from pipeline.context import RunContext
from pipeline.driver import holder_elsewhere, lock_path
from pipeline.runner import JobRunner
from tests.e2e.crash import small_teaser

SLOW = {"seed": 3, "media": {"max_side": 160},
        "defaults": {"latency": {"dist": "fixed", "seconds": 4.0}}}  # fmt: skip


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not made yet
        return []


@pytest.mark.slow
def test_a_running_job_is_left_to_the_process_that_runs_it(tmp_path: Path) -> None:
    board = small_teaser(tmp_path)
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(yaml.safe_dump(SLOW))
    data = Path(os.environ["SHOTLINE_DATA_DIR"])
    db = data / "shotline.db"
    render = [sys.executable, "-m", "shotline", "render", str(board), "-o", "out/teaser.mp4",
              "--providers", "emulated", "--scenario", str(scenario), "--json"]  # fmt: skip
    first = subprocess.Popen(render, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not _rows(db, "select 1 from attempt where status = 'rendering'"):
            assert first.poll() is None, "the render ended before its shots rendered"
            assert time.monotonic() < deadline, "the render never began"
            time.sleep(0.05)
        (job,) = (row[0] for row in _rows(db, "select id from job"))

        again = subprocess.run(render, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        resumed = subprocess.run(
            [sys.executable, "-m", "shotline", "jobs", "resume", str(job), "--json"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        settings = Settings()
        runner = JobRunner(RunContext.create("emulated", settings))
        assert runner.resume_unfinished() == []
        assert runner.left_to_others == [str(job)]  # serve's banner names them
        assert not runner.is_running(str(job))
        holder = holder_elsewhere(settings, str(job))
    finally:
        out, err = first.communicate(timeout=120)
    for refused in (again, resumed):
        assert refused.returncode == 1, refused.stdout + refused.stderr
        said = json.loads(refused.stdout)
        assert said["error"] == "DrivenElsewhereError", said
        assert said["detail"].startswith(f"job {job} is being run by another process (pid "), said
        assert f"pid {first.pid} on " in said["detail"]
    assert holder is not None
    assert holder.startswith(f"pid {first.pid} on ")

    assert first.returncode == 0, err[-3000:]
    assert json.loads(out)["status"] == "delivered"
    attempts = _rows(db, "select status from attempt")
    assert {status for (status,) in attempts} == {"accepted"}, attempts
    assert len(attempts) == 7, "one attempt a shot: none failed, none rendered twice"
    assert not lock_path(settings, str(job)).exists(), "the lock goes with the job's end"
