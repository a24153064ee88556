"""SIGKILL at random points never loses or duplicates paid work: every job completes on restart,
no provider job is created twice, and the ledger reconciles with the attempts."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from emulators import Scenario, start_emulator
from store.db import session_scope
from store.models import Attempt, Job, LedgerEntry

ROOT = Path(__file__).parents[2]
RUNS = 20


def _board(tmp_path: Path) -> Path:
    board = yaml.safe_load((ROOT / "examples" / "teaser.yaml").read_text())
    board["output"]["size"] = "160x90"
    path = tmp_path / "teaser.yaml"
    path.write_text(yaml.safe_dump(board))
    return path


def _render(board: Path, out: Path, env: dict[str, str]) -> list[str]:
    return [sys.executable, "-m", "shotline", "render", str(board), "-o", str(out),
            "--providers", "emulated", "--json"]  # fmt: skip


@pytest.mark.slow
def test_sigkill_at_random_points_loses_no_paid_work(tmp_path):
    scenario = Scenario.model_validate(
        {"seed": 11, "media": {"max_side": 160},
         "defaults": {"latency": {"dist": "lognormal", "seconds": 0.25, "sigma": 0.4}}}
    )  # fmt: skip
    data = tmp_path / "data"
    board = _board(tmp_path)
    rng = random.Random(2026)
    kills = 0
    with start_emulator(scenario) as emulator:
        env = os.environ | {
            "SHOTLINE_EMULATOR_URL": emulator.base_url,
            "SHOTLINE_DATA_DIR": str(data),
        }
        for run in range(RUNS):
            out = tmp_path / f"out-{run}.mp4"
            command = _render(board, out, env)
            for _ in range(rng.randint(1, 2)):
                process = subprocess.Popen(
                    command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                time.sleep(rng.uniform(0.3, 2.5))
                if process.poll() is None:
                    process.kill()
                    kills += 1
                process.wait()
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
            assert out.exists()
        stats = emulator.stats()
    url = f"sqlite:///{(data / 'shotline.db').resolve()}"
    with session_scope(url) as session:
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
    # A run whose process finished before its kill is followed by a fresh job whose shots all come
    # from the cache, so there can be more jobs than runs, but never an unfinished one.
    assert len(statuses) >= RUNS
    created = sum(stats["accepted"].values())
    assert created == submitted, f"{created} provider jobs for {submitted} submitted attempts"
    assert stats["idempotency_collisions"] == stats["replays"]
    assert booked == pytest.approx(settled)
