"""The embedded engine's SIGKILL crash test (tests/e2e/test_crash.py) on PostgreSQL: the same
guarantees, with 6 seeded runs instead of 20 to keep the suite short (the SQLite variant keeps 20)."""

from __future__ import annotations

import os
import random
import subprocess
import time

import pytest
from sqlalchemy import func, select

from emulators import Scenario, start_emulator
from store.db import session_scope
from store.models import Attempt, Job, LedgerEntry
from tests.e2e.test_crash import _board, _render

RUNS = 6


@pytest.mark.slow
@pytest.mark.services
def test_sigkill_at_random_points_loses_no_paid_work_on_postgres(tmp_path, fresh_postgres_url):
    scenario = Scenario.model_validate(
        {"seed": 11, "media": {"max_side": 160},
         "defaults": {"latency": {"dist": "lognormal", "seconds": 0.25, "sigma": 0.4}}}
    )  # fmt: skip
    board = _board(tmp_path)
    rng = random.Random(2027)
    kills = 0
    with start_emulator(scenario) as emulator:
        env = os.environ | {
            "SHOTLINE_EMULATOR_URL": emulator.base_url,
            "SHOTLINE_DATA_DIR": str(tmp_path / "data"),
            "SHOTLINE_DATABASE_URL": fresh_postgres_url,
        }
        for run in range(RUNS):
            out = tmp_path / f"out-{run}.mp4"
            command = _render(board, out, env)
            for _ in range(rng.randint(1, 2)):
                process = subprocess.Popen(
                    command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                time.sleep(rng.uniform(0.5, 3.0))
                if process.poll() is None:
                    process.kill()
                    kills += 1
                process.wait()
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
            assert out.exists()
        stats = emulator.stats()
    with session_scope(fresh_postgres_url) as session:
        statuses = session.scalars(select(Job.status)).all()
        submitted = session.scalar(select(func.count()).where(Attempt.provider_job_id.is_not(None)))
        settled = session.scalar(select(func.coalesce(func.sum(Attempt.settled_usd), 0.0)))
        booked = session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_usd), 0.0)).where(
                LedgerEntry.kind == "settle"
            )
        )
    assert kills >= RUNS, "the test must actually kill processes mid-flight"
    assert set(statuses) == {"delivered"}
    assert len(statuses) >= RUNS
    assert sum(stats["accepted"].values()) == submitted
    assert stats["idempotency_collisions"] == stats["replays"]
    assert booked == pytest.approx(settled)
