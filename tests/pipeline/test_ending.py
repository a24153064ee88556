"""How a job ends after an internal error, under both engines: no attempt stays open under it and
no reservation stays held."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from foundation.states import ATTEMPT_ENDED, AttemptStatus
from pipeline import assembly, attempts, polling, transitions
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from quality import gate
from store.db import session_scope
from store.models import Attempt, Event, Job, LedgerEntry, Shot
from tests.distributed.conftest import LocalDriver
from tests.pipeline.conftest import shot, tiny_board


def _crash(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("injected bug")


def _priced_job(ctx: RunContext, tmp_path: Any, usd: float) -> str:
    """A two-shot job whose every attempt reserves ``usd``."""
    job_id = create_job(ctx, tiny_board(shot("a"), shot("b")), output=tmp_path / "out.mp4")
    with session_scope(ctx.db_url) as session:
        for row in session.scalars(select(Shot).where(Shot.job_id == job_id)):
            route = dict(row.route or {})
            route["candidates"] = [c | {"quote_usd": usd} for c in route["candidates"]]
            row.route = route
    return job_id


def _run(ctx: RunContext, engine: str, job_id: str) -> str:
    if engine == "embedded":
        return EmbeddedEngine(ctx).run(job_id)
    driver = LocalDriver(ctx)
    driver.submit(job_id)
    return driver.run(job_id)


def _assert_closed(ctx: RunContext, job_id: str) -> tuple[list[Attempt], set[str]]:
    """Asserts the job failed with every attempt closed and settled and no reservation held;
    returns its attempts and the states the ``attempt.closed`` events closed them in."""
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        tries = list(
            session.scalars(
                select(Attempt).join(Shot, Shot.id == Attempt.shot_id).where(Shot.job_id == job_id)
            )
        )
        held = session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_usd), 0.0)).where(
                LedgerEntry.job_id == job_id, LedgerEntry.kind.in_(("reserve", "release"))
            )
        )
        closed = list(
            session.scalars(
                select(Event.data).where(Event.job_id == job_id, Event.kind == "attempt.closed")
            )
        )
        assert job.status == "failed"
        assert tries, "the job made no attempt"
        assert {t.status for t in tries} <= ATTEMPT_ENDED, [t.status for t in tries]
        assert all(t.settled_usd is not None for t in tries)
        assert job.reserved_usd == pytest.approx(0.0)
        assert held == pytest.approx(0.0)
        assert closed
        assert all(data["reason"].startswith("job failed") for data in closed)
        return tries, {data["was"] for data in closed}


@pytest.mark.parametrize("engine", ["embedded", "distributed"])
def test_a_crash_while_polling_closes_the_submitted_attempt(
    ctx, scripted, tmp_path, monkeypatch, engine
):
    adapter = scripted()
    monkeypatch.setattr(polling, "poll_once", _crash)  # the flow's poll step (both engines)
    job_id = _priced_job(ctx, tmp_path, 0.5)
    assert _run(ctx, engine, job_id) == "failed"
    tries, was = _assert_closed(ctx, job_id)
    assert was == {"submitted"}
    assert {t.provider_job_id for t in tries} <= set(adapter.cancelled)


@pytest.mark.parametrize("engine", ["embedded", "distributed"])
def test_a_crash_in_the_gate_closes_the_gating_attempt(
    ctx, scripted, tmp_path, monkeypatch, engine
):
    scripted()
    monkeypatch.setattr(gate, "evaluate", _crash)
    job_id = _priced_job(ctx, tmp_path, 0.5)
    assert _run(ctx, engine, job_id) == "failed"
    _, was = _assert_closed(ctx, job_id)
    assert was == {"gating"}


def _free_slots(ctx: RunContext, job_id: str) -> bool:
    """Whether every model the job's attempts used has its whole concurrency free."""
    with session_scope(ctx.db_url) as session:
        models = set(
            session.scalars(
                select(Attempt.model_id)
                .join(Shot, Shot.id == Attempt.shot_id)
                .where(Shot.job_id == job_id)
            )
        )
    assert models
    for model_id in models:
        limit = ctx.registry.get(model_id).limits.concurrency
        taken = [ctx.limits.try_acquire(model_id, f"probe{i}", limit, 60.0) for i in range(limit)]
        for i in range(limit):
            ctx.limits.release(model_id, f"probe{i}")
        if not all(taken):
            return False
    return True


def test_a_crash_while_polling_frees_the_model_slot(ctx, scripted, tmp_path, monkeypatch):
    scripted()
    monkeypatch.setattr(polling, "poll_once", _crash)
    job_id = _priced_job(ctx, tmp_path, 0.5)
    assert EmbeddedEngine(ctx).run(job_id) == "failed"
    assert _free_slots(ctx, job_id), "a crashed step left its model's slot held for a lease"


def test_a_cancel_racing_a_submission_ends_the_step_without_a_crash(
    ctx, scripted, tmp_path, monkeypatch, caplog
):
    """The cancel commits between the submit step's read and its write: the write finds the row
    moved, and the step runs again on what it now reads (cancelled) instead of crashing."""
    scripted()
    job_id = _priced_job(ctx, tmp_path, 0.5)
    real_move, once = transitions.attempt_to, threading.Lock()
    raced: list[bool] = []
    cancelled: list[bool] = []

    def racing_move(session: Any, attempt: Attempt, to: AttemptStatus, **kw: Any) -> None:
        with once:  # both shots submit at once; the first one cancels
            first = to == AttemptStatus.SUBMITTING and not raced
            raced.append(first)
        if first:
            cancelled.append(assembly.cancel_job(ctx, job_id))
        real_move(session, attempt, to, **kw)

    monkeypatch.setattr(attempts, "attempt_to", racing_move)
    assert EmbeddedEngine(ctx).run(job_id) == "cancelled"
    assert cancelled == [True]
    assert "crashed" not in caplog.text
    with session_scope(ctx.db_url) as session:
        shots = session.scalars(select(Shot.status).where(Shot.job_id == job_id)).all()
        assert set(shots) == {"cancelled"}
        assert session.get_one(Job, job_id).reserved_usd == pytest.approx(0.0)
    assert _free_slots(ctx, job_id)
