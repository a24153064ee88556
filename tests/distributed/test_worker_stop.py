"""Ctrl-C in the terminal running ``shotline worker`` reaches the whole foreground process group:
Celery's main process starts a warm shutdown and its pool children ignore SIGINT, but their FFmpeg
runs do not. A normalisation whose FFmpeg the Ctrl-C ended must be a stop (the step retried by the
next worker), not a failed shot: before the fix the shot failed with "normalise: ffmpeg failed
(exit status 255)" and with it the job, though its clip was paid for and accepted.

Real processes (``python -m shotline worker`` and ``render`` under the Celery engine), SQLite on
this machine, Redis with queues of the test's own; the signal goes to the worker's session the
moment an FFmpeg runs in it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emulators import Scenario, start_emulator
from tests.e2e.crash import small_teaser
from tests.e2e.test_stop import SCENARIO, SHOTS, _left_in_session, _query


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "shotline", "worker", "--concurrency", "2", "--name", "stop@%h",
            "--beat"]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=out, start_new_session=True)


def _when_ffmpeg_runs(process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        ps = subprocess.run(["ps", "-o", "comm=", "-s", str(process.pid)], capture_output=True)
        if b"ffmpeg" in ps.stdout:
            return
        assert process.poll() is None, "the worker ended"
        assert time.monotonic() < deadline, "no FFmpeg ran"
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.serial("cluster")
@pytest.mark.services
def test_ctrl_c_on_a_worker_running_ffmpeg_fails_no_shot(
    tmp_path: Path, redis_url: str, isolated_queues: str
) -> None:
    data = Path(os.environ["SHOTLINE_DATA_DIR"])
    board = small_teaser(tmp_path)
    log = tmp_path / "worker.log"
    with start_emulator(Scenario.model_validate(SCENARIO)) as emulator:
        env = dict(os.environ, SHOTLINE_ENGINE="celery", SHOTLINE_BROKER_URL=redis_url,
                   SHOTLINE_QUEUE_PREFIX=isolated_queues, SHOTLINE_EMULATOR_URL=emulator.base_url,
                   SHOTLINE_ASSET_DIR=str(data / "assets"), SHOTLINE_POLL_INTERVAL_S="0.2",
                   SHOTLINE_REAP_INTERVAL_S="1", SHOTLINE_REAP_AFTER_S="4")  # fmt: skip
        worker = _worker(env, log)
        argv = [sys.executable, "-m", "shotline", "render", str(board), "-o", "out/t.mp4",
                "--providers", "emulated", "--json"]  # fmt: skip
        with (tmp_path / "render.log").open("ab") as out:
            render = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=out, stderr=out)
        try:
            _when_ffmpeg_runs(worker)
            os.killpg(worker.pid, signal.SIGINT)
            assert worker.wait(60) == 0, log.read_text()[-3000:]  # Celery's warm shutdown
            time.sleep(0.3)
            # still running (a zombie is Celery's embedded beat, exited after the main process)
            assert [p for p in _left_in_session(worker.pid) if p.split()[2] != "Z"] == []
            db = data / "shotline.db"
            failed = _query(db, "select kind, data from event where kind like '%failed%'")
            assert failed == [], failed
            again = _worker(env, log)
            assert render.wait(150) == 0, (tmp_path / "render.log").read_text()[-3000:]
        finally:
            for process in (render, worker, locals().get("again")):
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(60)
    attempts = _query(db, "select status, provider_job_id from attempt")
    assert [a[0] for a in attempts] == ["accepted"] * SHOTS, attempts
    assert len({a[1] for a in attempts}) == SHOTS
    assert _query(db, "select count(*) from ledger_entry where kind = 'settle'") == [(SHOTS,)]
