"""The SIGKILL crash harness shared by the SQLite and PostgreSQL crash tests: render the teaser
against one emulator, kill the process at seeded random points, restart, then check that no paid
work was lost or duplicated and that the ledger reconciles."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from emulators import Scenario, start_emulator
from store.db import session_scope
from store.models import Attempt, Job, LedgerEntry

ROOT = Path(__file__).parents[2]
SCENARIO = {"seed": 11, "media": {"max_side": 160},
            "defaults": {"latency": {"dist": "lognormal", "seconds": 0.25, "sigma": 0.4}}}  # fmt: skip


@dataclass(frozen=True)
class CrashPlan:
    runs: int
    seed: int
    kill_after_s: tuple[float, float]
    finish_timeout_s: float


def small_teaser(tmp_path: Path) -> Path:
    board = yaml.safe_load((ROOT / "examples" / "teaser.yaml").read_text())
    board["output"]["size"] = "160x90"
    path = tmp_path / "teaser.yaml"
    path.write_text(yaml.safe_dump(board))
    return path


def render_command(board: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "shotline", "render", str(board), "-o", str(out),
            "--providers", "emulated", "--json"]  # fmt: skip


def _kill_at_random(
    command: list[str], env: dict[str, str], rng: random.Random, plan: CrashPlan
) -> int:
    kills = 0
    for _ in range(rng.randint(1, 2)):
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(*plan.kill_after_s))
        if process.poll() is None:
            process.kill()
            kills += 1
        process.wait()
    return kills


def crash_and_check(
    tmp_path: Path, db_url: str, env_extra: dict[str, str], plan: CrashPlan
) -> None:
    board, rng, kills = small_teaser(tmp_path), random.Random(plan.seed), 0
    with start_emulator(Scenario.model_validate(SCENARIO)) as emulator:
        env = os.environ | {"SHOTLINE_EMULATOR_URL": emulator.base_url} | env_extra
        for run in range(plan.runs):
            out = tmp_path / f"out-{run}.mp4"
            command = render_command(board, out)
            kills += _kill_at_random(command, env, rng, plan)
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=plan.finish_timeout_s
            )
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
            assert out.exists()
        stats = emulator.stats()
    with session_scope(db_url) as session:
        statuses = session.scalars(select(Job.status)).all()
        submitted = session.scalar(select(func.count()).where(Attempt.provider_job_id.is_not(None)))
        settled = session.scalar(select(func.coalesce(func.sum(Attempt.settled_usd), 0.0)))
        booked = session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_usd), 0.0)).where(
                LedgerEntry.kind == "settle"
            )
        )
    assert kills >= plan.runs, "the test must actually kill processes mid-flight"
    assert set(statuses) == {"delivered"}
    # A run whose process finished before its kill is followed by a fresh job whose shots all come
    # from the cache, so there can be more jobs than runs, but never an unfinished one.
    assert len(statuses) >= plan.runs
    created = sum(stats["accepted"].values())
    assert created == submitted, f"{created} provider jobs for {submitted} submitted attempts"
    assert stats["idempotency_collisions"] == stats["replays"]
    assert booked == pytest.approx(settled)
