"""The SIGKILL crash harness shared by the SQLite and PostgreSQL crash tests: render the teaser
against one emulator, kill the process at seeded random points, restart, then check that no paid
work was lost or duplicated and that the ledger reconciles.

Each ``shotline render`` is a process forked from a server that imported the CLI once
(``tests/e2e/forkserver.py``), so the random kill points fall in the render's work rather than in
the interpreter's start-up."""

from __future__ import annotations

import logging
import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from emulators import Scenario, start_emulator
from pipeline.faults import CRASH_AFTER_CREATE
from store.db import session_scope
from store.models import Attempt, Event, Job, LedgerEntry
from tests.e2e.forkserver import ForkServer

ROOT = Path(__file__).parents[2]
SCENARIO = {"seed": 11, "media": {"max_side": 160},
            "defaults": {"latency": {"dist": "lognormal", "seconds": 0.25, "sigma": 0.4}}}  # fmt: skip


logger = logging.getLogger(__name__)
HELD_EXIT = 5
"""``shotline render`` exits 5 when the job waits for ``shotline resolve`` (submission_unknown)."""
WINDOW_PINS = ("kling/v3-std", "fal/veo3.1-fast", "replicate/veo-3.1-fast", "runway/gen4.5")
"""The crash-window board: one shot per mechanism (client reference, reconcile x2, none)."""


@dataclass(frozen=True)
class CrashPlan:
    runs: int
    seed: int
    kill_after_s: tuple[float, float]
    finish_timeout_s: float


def small_teaser(tmp_path: Path, take: int | None = None) -> Path:
    """The teaser at 160x90; with ``take``, one shot (rotating) gets a new prompt, so that run has
    provider work to be killed in while the other shots come from the cache."""
    board = yaml.safe_load((ROOT / "examples" / "teaser.yaml").read_text())
    board["output"]["size"] = "160x90"
    if take is not None:
        shots = [shot for scene in board["scenes"] for shot in scene["shots"]]
        shots[take % len(shots)]["prompt"] += f" (take {take})"
    path = tmp_path / ("teaser.yaml" if take is None else f"teaser-{take}.yaml")
    path.write_text(yaml.safe_dump(board))
    return path


def window_board(tmp_path: Path) -> Path:
    """One scene, one 4 s shot pinned to each of ``WINDOW_PINS``."""
    shots = [
        {"id": f"w{i}", "type": "broll", "duration": 4, "audio": "none", "model": model,
         "prompt": f"Harbour crane {i} lifting a neon container at dusk, slow pan"}
        for i, model in enumerate(WINDOW_PINS)
    ]  # fmt: skip
    board = {"title": "crash window", "mode": "preview", "budget_usd": 25,
             "output": {"size": "160x90", "fps": 24}, "scenes": [{"id": "s", "shots": shots}]}  # fmt: skip
    path = tmp_path / "window.yaml"
    path.write_text(yaml.safe_dump(board))
    return path


def render_argv(board: Path, out: Path) -> list[str]:
    return ["render", str(board), "-o", str(out), "--providers", "emulated", "--json", "--force"]


@dataclass
class Tally:
    kills: int = 0
    window_kills: int = 0
    unknowns: Counter[str] = field(default_factory=Counter)


def _kill_at_random(
    server: ForkServer, argv: list[str], env: dict[str, str], rng: random.Random, plan: CrashPlan
) -> int:
    """Start the render 1-2 times and SIGKILL each start at a random point of its work."""
    kills = 0
    for attempt in range(rng.randint(1, 2)):
        log = Path(argv[3]).with_suffix(f".killed-{attempt}.log")
        pid = server.spawn(argv, env, log.parent, log)
        time.sleep(rng.uniform(*plan.kill_after_s))
        if server.poll(pid) is None:
            kills += server.kill(pid) == -signal.SIGKILL
    return kills


def _finish(
    server: ForkServer, argv: list[str], env: dict[str, str], ctx: _Run, timeout_s: float
) -> None:
    """Run the render until it delivers: restart it after a crash-window kill (-9), and act as
    the operator when it waits for ``shotline resolve`` (exit 5)."""
    out = Path(argv[3])
    for turn in range(20):
        log = out.with_suffix(f".{turn}.log")
        code = server.wait(server.spawn(argv, env, out.parent, log), timeout_s)
        if code == 0:
            return
        if code == -signal.SIGKILL:
            ctx.tally.window_kills += 1
        elif code == HELD_EXIT:
            _resolve_unknowns(server, env, ctx)
        else:
            raise AssertionError(f"{argv[1]} exited {code}: {log.read_text()[-3000:]}")
    raise AssertionError(f"{argv[1]} never finished")


@dataclass
class _Run:
    db_url: str
    emulator: object
    tally: Tally


def _resolve_unknowns(server: ForkServer, env: dict[str, str], ctx: _Run) -> None:
    """What an operator does: look each held create up and ``shotline resolve`` it."""
    for attempt_id, provider, found in operator_findings(ctx.db_url, ctx.emulator):
        ctx.tally.unknowns[provider] += 1
        how = ["--provider-job", found] if found else ["--not-submitted"]
        log = Path(env["SHOTLINE_DATA_DIR"]) / f"resolve-{attempt_id}.log"
        code = server.wait(
            server.spawn(["resolve", str(attempt_id), *how], env, log.parent, log), 60
        )
        assert code == 0, log.read_text()[-2000:]


def operator_findings(db_url: str, emulator: Any) -> list[tuple[int, str, str | None]]:
    """Each ``submission_unknown`` attempt with what an operator finds in the provider's dashboard
    (here: the emulator's jobs no attempt holds, same model and prompt): ``(attempt id, provider,
    the provider job in shotline's form or None when the create never arrived)``."""
    jobs = emulator.emulator.jobs.values()
    with session_scope(db_url) as session:
        rows = session.execute(select(Attempt.provider, Attempt.provider_job_id)).all()
        stored = [job for _, job in rows if job]
        shapes = {p: job.rpartition("/")[0] for p, job in rows if job and "/" in job}
        held = session.scalars(select(Attempt).where(Attempt.status == "submission_unknown")).all()
        todo = [(a.id, a.provider, (a.request or {}).get("provider_model"),
                 (a.request or {}).get("prompt", "")) for a in held]  # fmt: skip
    findings: list[tuple[int, str, str | None]] = []
    for attempt_id, provider, model, prompt in todo:
        lost = [j for j in jobs if j.provider == provider and j.model == model
                and not _held_by(j.id, stored) and j.spec.prompt.startswith(prompt[:60])]  # fmt: skip
        assert len(lost) <= 1, f"{provider}: {len(lost)} unrecorded jobs match attempt {attempt_id}"
        # the id in shotline's form: a Vertex operation name, Luma's "dm/<id>" (adapters/luma.py)
        shape = shapes.get(provider) or ("dm" if provider == "luma" else None)
        found = [str(j.extra.get("name") or (f"{shape}/{j.id}" if shape else j.id)) for j in lost]
        findings.append((attempt_id, provider, found[0] if found else None))
        stored.extend(found)
    return findings


def _held_by(emulator_id: str, stored: list[str]) -> bool:
    """Adapters store the provider's job id in its own form (a Vertex operation name, a fal
    queue path, Runway's dashed UUID): the emulator's id is its last segment, undashed."""
    return any(job.rpartition("/")[2].replace("-", "") == emulator_id for job in stored)


def crash_and_check(
    tmp_path: Path, db_url: str, env_extra: dict[str, str], plan: CrashPlan
) -> None:
    """Random kills over ``plan.runs`` teaser renders, then kills placed in the crash window (the
    process dies right after a provider accepted a create, before the job id is stored) on a board
    with one shot per submission mechanism. Reports double submissions and unknowns per provider."""
    rng = random.Random(plan.seed)
    scenario = Scenario.model_validate(SCENARIO)
    with start_emulator(scenario) as emulator, ForkServer() as server:
        run = _Run(db_url, emulator, Tally())
        env = dict(os.environ) | {"SHOTLINE_EMULATOR_URL": emulator.base_url} | env_extra
        for n in range(plan.runs):
            argv = render_argv(small_teaser(tmp_path, take=n), tmp_path / f"out-{n}.mp4")
            run.tally.kills += _kill_at_random(server, argv, env, rng, plan)
            _finish(server, argv, env, run, plan.finish_timeout_s)
            assert Path(argv[3]).exists()
        marks = tmp_path / "crash-marks"
        marks.mkdir()
        window_env = env | {CRASH_AFTER_CREATE: str(marks)}
        argv = render_argv(window_board(tmp_path), tmp_path / "out-window.mp4")
        _finish(server, argv, window_env, run, plan.finish_timeout_s)
        stats = emulator.stats()
        created = Counter(job.provider for job in emulator.emulator.jobs.values())
        created_ids = set(emulator.emulator.jobs)
    _check(db_url, run.tally, stats, created, created_ids, plan)


def _check(
    db_url: str,
    tally: Tally,
    stats: dict[str, Any],
    created: Counter[str],
    created_ids: set[str],
    plan: CrashPlan,
) -> None:
    with session_scope(db_url) as session:
        statuses = session.scalars(select(Job.status)).all()
        rows = session.execute(
            select(Attempt.provider, Attempt.provider_job_id, Attempt.status)
        ).all()
        recovered = Counter(
            str(data.get("model", "")).split("/")[0]
            for data in session.scalars(select(Event.data).where(Event.kind == "attempt.submitted"))
            if data.get("recovered")
        )
        settled = session.scalar(select(func.coalesce(func.sum(Attempt.settled_usd), 0.0)))
        booked = session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_usd), 0.0)).where(
                LedgerEntry.kind == "settle"
            )
        )
    stored = [job for _, job, _ in rows if job]
    submitted = Counter(p for p, job, _ in rows if job)
    doubles = {p: created[p] - submitted[p] for p in created | submitted}
    logger.warning(
        "crash test: %d random kills, %d crash-window kills; provider jobs created %s, stored on "
        "attempts %s; double submissions %s; lost creates found again %s; submission_unknown "
        "resolved by the operator %s; repeated bodies %s",
        tally.kills, tally.window_kills, dict(created), dict(submitted), doubles,
        dict(recovered), dict(tally.unknowns), stats["duplicates"],
    )  # fmt: skip
    assert tally.kills >= plan.runs, "the test must actually kill processes mid-flight"
    # every window attempt's create was lost once (its own kill or a concurrent one) and then found
    # again (client reference, reconcile) or held for the operator (none)
    assert tally.window_kills >= 1
    for provider in {pin.split("/")[0] for pin in WINDOW_PINS}:
        assert recovered[provider] + tally.unknowns[provider] >= 1, provider
    for provider in ("kling", "fal", "replicate"):
        assert recovered[provider] >= 1, f"{provider}: no lost create was found again"
    assert set(statuses) == {"delivered"}
    # A run whose process finished before its kill is followed by a fresh job whose shots all come
    # from the cache, so there can be more jobs than runs, but never an unfinished one.
    assert len(statuses) >= plan.runs
    assert sum(created.values()) == sum(stats["accepted"].values())
    assert not any(status == "submission_unknown" for *_, status in rows)
    # nothing unaccounted: every provider job the emulator made belongs to an attempt
    unaccounted = sorted(job for job in created_ids if not _held_by(job, stored))
    assert not unaccounted, f"unaccounted provider jobs: {unaccounted}"
    assert all(extra == 0 for extra in doubles.values()), doubles
    assert booked == pytest.approx(settled)
