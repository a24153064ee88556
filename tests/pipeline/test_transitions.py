"""States in one place: only ``pipeline/transitions.py`` writes a status, it refuses moves the table
does not list, every move an end-to-end render makes is in the table (replayed from the event
stream), and the README's state diagrams are the table."""

from __future__ import annotations

import re
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.errors import TransientError
from foundation.states import (
    ATTEMPT_TRANSITIONS,
    JOB_TRANSITIONS,
    SHOT_TRANSITIONS,
    TRANSITIONS,
    AttemptStatus,
    JobStatus,
    ShotStatus,
)
from pipeline import transitions
from pipeline.engine import EmbeddedEngine
from pipeline.errors import StaleStatusError, TransitionError
from pipeline.planning import create_job
from pipeline.rerender import rerender_shot
from pipeline.runner import JobRunner
from store.db import session_scope
from store.models import Attempt, Event, Job, Shot
from tests.pipeline.conftest import shot, tiny_board
from tests.pipeline.status_writes import status_writes, writes_under

ROOT = Path(__file__).resolve().parents[2]
WRITER = "pipeline/transitions.py"
API_RECORDS = {("api/webhooks.py", "delivery"), ("api/middleware.py", "record")}
"""Statuses that are not pipeline states: a webhook delivery's and an idempotency record's."""
ENUMS = {"job": JobStatus, "shot": ShotStatus, "attempt": AttemptStatus}


class TestOnlyTheTransitionsModuleWritesAStatus:
    def test_no_production_module_but_transitions_writes_a_status(self):
        writes = [
            w
            for w in writes_under(ROOT)
            if w.path != WRITER and (w.path, w.receiver) not in API_RECORDS
        ]
        assert not writes, "\n".join(map(str, writes))

    def test_the_scan_sees_the_writes_of_the_transitions_module(self):
        assert {w.path for w in writes_under(ROOT)} >= {WRITER}

    def test_every_form_of_write_is_caught(self):
        planted = textwrap.dedent(
            """
            job.status = "running"
            shot.status, shot.error = "failed", "x"
            [a, attempt.status] = 1, "cancelled"
            job.status += "x"
            row.status: str = "planned"
            setattr(shot, "status", "accepted")
            session.execute(update(Job).values(status="failed"))
            session.execute(update(Job).values({"status": "failed"}))
            session.execute(update(Job), [{"id": "j", "status": "failed"}])
            session.query(Job).filter(Job.id == 1).update({"status": "failed"})
            session.bulk_update_mappings(Job, [{"id": "j", "status": "failed"}])
            session.add(Shot(job_id="j", key="a", status="accepted"))
            for job.status in ("a", "b"):
                pass
            """
        )
        lines = {w.line for w in status_writes(planted)}
        assert lines == set(range(2, 15)), sorted(lines)

    def test_reads_and_unrelated_writes_are_not_writes(self):
        clean = textwrap.dedent(
            """
            if job.status == "planned" and shot.status in SHOT_ENDED:
                status = job.status
            select(Job).where(Job.status.in_(JOB_UNFINISHED))
            state[key].update(event.data, status="gated")
            report = {"status": job.status}
            Health(status="ok", checks={})
            """
        )
        assert status_writes(clean) == []

    def test_a_planted_module_fails_the_scan(self, tmp_path):
        package = tmp_path / "pipeline"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "transitions.py").write_text("def to(job):\n    job.status = 'running'\n")
        (package / "sneaky.py").write_text("def end(job):\n    job.status = 'delivered'\n")
        found = [w for w in writes_under(tmp_path) if w.path != WRITER]
        assert [str(w) for w in found] == ["pipeline/sneaky.py:2: job.status (assign)"]


def _job(ctx, job_id):
    with session_scope(ctx.db_url) as session:
        return session.get_one(Job, job_id)


class TestTheTableIsEnforced:
    def test_an_illegal_job_move_raises_and_changes_nothing(self, ctx, tmp_path):
        job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "o.mp4")
        with session_scope(ctx.db_url) as session:
            job = session.get_one(Job, job_id)
            with pytest.raises(TransitionError, match="planned -> delivered"):
                transitions.job_to(session, job, JobStatus.DELIVERED)
        assert _job(ctx, job_id).status == JobStatus.PLANNED
        with session_scope(ctx.db_url) as session:
            kinds = session.scalars(select(Event.kind).where(Event.job_id == job_id)).all()
        assert "job.delivered" not in kinds

    def test_illegal_shot_and_attempt_moves_raise(self, ctx, tmp_path):
        job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "o.mp4")
        with session_scope(ctx.db_url) as session:
            row = session.scalars(select(Shot).where(Shot.job_id == job_id)).one()
            with pytest.raises(TransitionError, match="planned -> normalised"):
                transitions.shot_to(session, row, ShotStatus.NORMALISED)
            attempt = Attempt(shot_id=row.id, number=1, model_id="m", provider="local")
            transitions.attempt_opened(session, attempt, row)
            with pytest.raises(TransitionError, match="reserved -> fetched"):
                transitions.attempt_to(session, attempt, AttemptStatus.FETCHED, shot=row)
            assert (row.status, attempt.status) == ("planned", "reserved")

    def test_a_move_from_a_status_another_transaction_changed_is_refused(self, ctx, tmp_path):
        job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "o.mp4")
        with session_scope(ctx.db_url) as stale:
            job = stale.get_one(Job, job_id)  # read ``planned``
            assert job.status == JobStatus.PLANNED
            with session_scope(ctx.db_url) as other:
                transitions.job_to(other, other.get_one(Job, job_id), JobStatus.CANCELLED)
            with pytest.raises(StaleStatusError, match="no longer planned"):
                transitions.job_to(stale, job, JobStatus.RUNNING)
        assert _job(ctx, job_id).status == JobStatus.CANCELLED
        with session_scope(ctx.db_url) as session:
            kinds = session.scalars(select(Event.kind).where(Event.job_id == job_id)).all()
        assert "job.running" not in kinds
        assert kinds.count("job.cancelled") == 1

    def test_a_new_row_only_starts_where_the_table_says(self, ctx, tmp_path):
        with session_scope(ctx.db_url) as session:
            row = Shot(job_id="nope", key="a", scene_id="s", position=0)
            with pytest.raises(TransitionError, match="a new row -> rendering"):
                transitions.shot_created(session, row, ShotStatus.RENDERING)

    def test_an_ambiguous_move_must_name_its_event(self, ctx, tmp_path):
        job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "o.mp4")
        assert EmbeddedEngine(ctx).run(job_id) == "delivered"
        with session_scope(ctx.db_url) as session:
            row = session.scalars(select(Shot).where(Shot.job_id == job_id)).one()
            with pytest.raises(TransitionError, match="allowed events"):
                transitions.shot_to(session, row, ShotStatus.PLANNED)
            with pytest.raises(TransitionError, match=r"by shot\.cached"):
                transitions.shot_to(session, row, ShotStatus.PLANNED, event="shot.cached")

    def test_every_status_is_reachable_and_every_event_names_one_entity(self):
        for entity, table in TRANSITIONS.items():
            assert {t.target for t in table} == set(ENUMS[entity]), entity
            assert all(t.event.startswith(f"{entity}.") for t in table), entity
            assert len(set(table)) == len(table), entity


def _key_of(entity, row):
    if entity == "job":
        return None
    return row.shot_key if entity == "shot" else (row.shot_key, row.data["attempt"])


def _replay(ctx, job_id):
    """Replay the job's event stream through the tables: each entity's events must form a path
    from creation, and end in the status its row has. Returns the moves taken."""
    with session_scope(ctx.db_url) as session:
        rows = list(session.scalars(select(Event).where(Event.job_id == job_id).order_by(Event.id)))
        job = session.get_one(Job, job_id)
        shots = {s.id: s for s in session.scalars(select(Shot).where(Shot.job_id == job_id))}
        tries = session.scalars(select(Attempt).where(Attempt.shot_id.in_(list(shots))))
        final: dict[tuple[str, object], str] = {("job", None): job.status}
        final |= {("shot", s.key): s.status for s in shots.values()}
        final |= {("attempt", (shots[a.shot_id].key, a.number)): a.status for a in tries}
    states: dict[tuple[str, object], set[object]] = {}
    moves = set()
    for row in rows:
        entity = row.kind.split(".", 1)[0]
        table = TRANSITIONS.get(entity, ())
        if row.kind not in {t.event for t in table}:
            continue  # an event that is not a move (job.stitching, job.consistency...)
        key = _key_of(entity, row)
        now = states.get((entity, key), {None})
        taken = [t for t in table if t.source in now and t.event == row.kind]
        assert taken, f"{row.kind} of {entity} {key} from {now} is not in the table"
        states[(entity, key)] = {t.target for t in taken}
        moves |= {(entity, t.source, t.target) for t in taken}
    for where, status in final.items():
        assert status in states.get(where, set()), f"{where} is {status}; events say {states}"
    return moves


class TestEveryMoveOfARenderIsInTheTable:
    def test_delivery_with_a_retry_and_a_cached_shot(self, ctx, tmp_path, scripted):
        scripted(failures={"a": [TransientError("502 bad gateway", "local")]})
        board = tiny_board(shot("a"), shot("b"))
        first = create_job(ctx, board, output=tmp_path / "one.mp4")
        assert EmbeddedEngine(ctx).run(first) == "delivered"
        again = create_job(ctx, board, output=tmp_path / "two.mp4")
        assert EmbeddedEngine(ctx).run(again) == "delivered"
        moves = _replay(ctx, first) | _replay(ctx, again)
        assert ("attempt", AttemptStatus.SUBMITTING, AttemptStatus.FAILED) in moves
        assert ("shot", ShotStatus.PLANNED, ShotStatus.ACCEPTED) in moves  # from the cache
        assert ("job", JobStatus.RUNNING, JobStatus.DELIVERED) in moves

    def test_rerender_of_a_delivered_shot(self, ctx, tmp_path):
        job_id = create_job(ctx, tiny_board(shot("a"), shot("b")), output=tmp_path / "o.mp4")
        assert EmbeddedEngine(ctx).run(job_id) == "delivered"
        rerender_shot(ctx, job_id, "b", prompt="a calm snow scene, again")
        assert EmbeddedEngine(ctx).run(job_id) == "delivered"
        moves = _replay(ctx, job_id)
        assert ("job", JobStatus.DELIVERED, JobStatus.PLANNED) in moves
        assert ("shot", ShotStatus.NORMALISED, ShotStatus.PLANNED) in moves

    def test_cancellation_mid_render(self, ctx, tmp_path, scripted):
        scripted(hold=True)
        job_id = create_job(ctx, tiny_board(shot("a"), shot("b")), output=tmp_path / "o.mp4")
        runner = JobRunner(ctx)
        runner.submit(job_id)
        _until_submitted(ctx, job_id)
        runner.cancel(job_id)
        assert runner.wait(job_id, timeout=20) == "cancelled"
        runner.shutdown()
        moves = _replay(ctx, job_id)
        assert ("attempt", AttemptStatus.RENDERING, AttemptStatus.CANCELLED) in moves
        assert ("job", JobStatus.RUNNING, JobStatus.CANCELLED) in moves

    def test_budget_refusal(self, ctx, tmp_path):
        job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "o.mp4")
        with session_scope(ctx.db_url) as session:  # the budget is spent: refused at reserve
            job = session.get_one(Job, job_id)
            job.budget_usd, job.spent_usd = 1.0, 1.0
            row = session.scalars(select(Shot).where(Shot.job_id == job_id)).one()
            route = dict(row.route or {})
            route["candidates"] = [route["candidates"][0] | {"quote_usd": 0.5}]
            row.route = route
        assert EmbeddedEngine(ctx).run(job_id) == "failed"
        moves = _replay(ctx, job_id)
        assert ("attempt", AttemptStatus.RESERVED, AttemptStatus.FAILED) in moves


def _until_submitted(ctx, job_id, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(ctx.db_url) as session:
            kinds = session.scalars(
                select(Event.kind).where(Event.job_id == job_id, Event.kind == "attempt.rendering")
            ).all()
        if len(kinds) == 2:
            return
        time.sleep(0.05)
    raise AssertionError("the attempts never started rendering")


def _readme_diagrams() -> dict[str, set[tuple[str | None, str, str]]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found: dict[str, set[tuple[str | None, str, str]]] = {}
    for block in re.findall(r"```mermaid\n(.*?)```", text, re.S):
        title = re.search(r"^title: (\w+)", block, re.M)
        if "stateDiagram-v2" not in block or title is None:
            continue
        edges = re.findall(r"^\s*(\[\*\]|\w+) --> (\w+) : ([\w.]+)\s*$", block, re.M)
        found[title.group(1).lower()] = {
            (None if a == "[*]" else a, b, event) for a, b, event in edges
        }
    return found


def _table_edges(table) -> set[tuple[str | None, str, str]]:
    return {(None if t.source is None else str(t.source), str(t.target), t.event) for t in table}


class TestTheReadmeDiagramIsTheTable:
    @pytest.mark.parametrize(
        ("entity", "table"),
        [("job", JOB_TRANSITIONS), ("shot", SHOT_TRANSITIONS), ("attempt", ATTEMPT_TRANSITIONS)],
    )
    def test_same_states_and_edges(self, entity, table):
        drawn = _readme_diagrams().get(entity)
        assert drawn is not None, f"the README has no stateDiagram-v2 titled {entity}"
        assert drawn == _table_edges(table)
        states = {s for a, b, _ in drawn for s in (a, b) if s is not None}
        assert states == {str(s) for s in ENUMS[entity]}
