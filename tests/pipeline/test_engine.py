"""The embedded engine on the local renderer: delivery, retries, fallbacks, budget, continuity,
cache, resume and cancellation, asserted on the rows it leaves behind."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

import registry
from adapters.errors import RateLimitedError, SafetyRefusalError, TransientError
from foundation.states import Stage
from media.probe import count_frames
from pipeline import assembly, attempts, polling, verdicts
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from pipeline.report import job_report
from pipeline.runner import JobRunner
from store.db import session_scope
from store.models import Attempt, Event, Job, Shot
from tests.journal import journal_total
from tests.pipeline.conftest import shot, tiny_board


def _rows(ctx, job_id):
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        shots = list(
            session.scalars(select(Shot).where(Shot.job_id == job_id).order_by(Shot.position))
        )
        tries = {
            s.key: list(
                session.scalars(
                    select(Attempt).where(Attempt.shot_id == s.id).order_by(Attempt.number)
                )
            )
            for s in shots
        }
        kinds = [
            e.kind
            for e in session.scalars(select(Event).where(Event.job_id == job_id).order_by(Event.id))
        ]
        return job, shots, tries, kinds


def _run(ctx, board, tmp_path, name="out.mp4"):
    job_id = create_job(ctx, board, output=tmp_path / name)
    status = EmbeddedEngine(ctx).run(job_id)
    return job_id, status


class TestDelivery:
    def test_job_delivers_a_stitched_file_with_every_state_recorded(self, ctx, tmp_path):
        board = tiny_board(shot("a", audio="ambient"), shot("b", duration=1.5))
        job_id, status = _run(ctx, board, tmp_path)
        _job, shots, tries, kinds = _rows(ctx, job_id)
        assert status == "delivered"
        assert count_frames(tmp_path / "out.mp4") == round(2.5 * 24)
        assert [s.status for s in shots] == ["normalised", "normalised"]
        assert [t.status for t in tries["a"]] == ["accepted"]
        assert tries["a"][0].provider_job_id
        for kind in (
            "job.created",
            "attempt.reserved",
            "attempt.submitted",
            "attempt.fetched",
            "attempt.gated",
            "shot.accepted",
            "shot.normalised",
            "job.stitching",
            "job.delivered",
        ):
            assert kind in kinds


class TestRetriesAndFallbacks:
    def test_transient_error_retries_same_model(self, ctx, tmp_path, scripted):
        adapter = scripted(failures={"a": [TransientError("502 bad gateway", "local")]})
        job_id, status = _run(ctx, tiny_board(shot("a")), tmp_path)
        _, _, tries, _ = _rows(ctx, job_id)
        assert status == "delivered"
        assert [(t.status, t.error_kind) for t in tries["a"]] == [
            ("failed", "transient"),
            ("accepted", None),
        ]
        assert len(adapter.submitted) == 2
        assert tries["a"][0].settled_usd == 0.0

    def test_rate_limit_hint_is_honoured(self, ctx, tmp_path, scripted):
        scripted(failures={"a": [RateLimitedError("429", "local", retry_after=0.3)]})
        started = time.monotonic()
        _, status = _run(ctx, tiny_board(shot("a")), tmp_path)
        assert status == "delivered"
        assert time.monotonic() - started >= 0.3

    def test_throttled_creates_do_not_use_the_attempt_budget(self, ctx, tmp_path, scripted):
        ctx.settings.max_attempts_per_shot = 1
        throttled = [RateLimitedError("429", "local", retry_after=0.01) for _ in range(2)]
        adapter = scripted(failures={"a": throttled})
        job_id, status = _run(ctx, tiny_board(shot("a")), tmp_path)
        job, _, tries, _ = _rows(ctx, job_id)
        assert status == "delivered", job.error
        assert [(t.status, t.error_kind) for t in tries["a"]] == [
            ("failed", "rate_limited"),
            ("failed", "rate_limited"),
            ("accepted", None),
        ]
        assert len(adapter.submitted) == 3
        assert sum(t.settled_usd or 0.0 for t in tries["a"][:2]) == 0.0

    def test_safety_refusal_falls_back_to_next_model(self, ctx, tmp_path, scripted):
        models = yaml.safe_load((Path(registry.__file__).parent / "models.yaml").read_text())[
            "models"
        ]
        second = next(m for m in models if m["id"] == "local/animatic") | {"id": "local/animatic-b"}
        (tmp_path / "extra.yaml").write_text(yaml.safe_dump({"models": [second]}))
        ctx.registry = registry.load_registry(tmp_path / "extra.yaml")
        adapter = scripted(failures={"a": [SafetyRefusalError("SAFETY.INPUT.TEXT", "local")]})
        job_id, status = _run(ctx, tiny_board(shot("a")), tmp_path)
        _, shots, tries, _ = _rows(ctx, job_id)
        assert status == "delivered"
        assert [t.error_kind for t in tries["a"]] == ["safety_refusal", None]
        assert tries["a"][0].model_id != tries["a"][1].model_id
        assert shots[0].model_id == tries["a"][1].model_id
        assert next(r.seed for r in adapter.submitted) == adapter.submitted[1].seed

    def test_safety_refusal_without_fallback_fails_the_job(self, ctx, tmp_path, scripted):
        ctx.settings.fallback_on_safety = False
        scripted(failures={"a": [SafetyRefusalError("refused", "local")]})
        job_id, status = _run(ctx, tiny_board(shot("a")), tmp_path)
        job, _, tries, _ = _rows(ctx, job_id)
        assert status == "failed"
        assert job.error_shot == "a"
        assert len(tries["a"]) == 1

    def test_attempt_budget_bounds_retries(self, ctx, tmp_path, scripted):
        ctx.settings.max_attempts_per_shot = 2
        refused = "connection failed: [Errno 111] Connection refused"
        scripted(failures={"a": [TransientError(refused, "local") for _ in range(5)]})
        job_id, status = _run(ctx, tiny_board(shot("a")), tmp_path)
        job, _, tries, _ = _rows(ctx, job_id)
        assert status == "failed"
        assert len(tries["a"]) == 2
        # the cause is named, not only the budget (it was "attempt budget of 2 used up")
        assert (
            job.error
            == f"shot a: attempt budget of 2 used up; the last attempt: {tries['a'][1].error}"
        )
        assert refused in job.error


class TestContinuity:
    def test_continuing_shot_waits_and_gets_the_last_frame(self, ctx, tmp_path, scripted):
        adapter = scripted()
        board = tiny_board(shot("a"), shot("b", continues=True), shot("c"))
        job_id, status = _run(ctx, board, tmp_path)
        assert status == "delivered"
        by_shot = {r.shot_id: r for r in adapter.submitted}
        assert by_shot["b"].reference_image is not None
        assert by_shot["b"].reference_image.name.startswith("lastframe-b-")
        assert by_shot["a"].reference_image is None
        with session_scope(ctx.db_url) as session:
            events = [
                (e.kind, e.shot_key)
                for e in session.scalars(
                    select(Event).where(Event.job_id == job_id).order_by(Event.id)
                )
            ]
        assert events.index(("shot.accepted", "a")) < events.index(("attempt.reserved", "b"))

    def test_a_last_frame_the_safety_screen_refuses_is_never_sent(
        self, ctx, tmp_path, scripted, monkeypatch
    ):
        adapter = scripted()
        monkeypatch.setattr(verdicts, "frame_safety_from", lambda settings: None)
        ctx.settings.image_safety_threshold = 1e-9  # every frame "unsafe": no unsafe media needed
        board = tiny_board(shot("a"), shot("b", continues=True))
        job_id, status = _run(ctx, board, tmp_path)
        _, shots, tries, _ = _rows(ctx, job_id)
        assert status == "failed"
        assert [r.shot_id for r in adapter.submitted] == ["a"]
        refused = tries["b"][0]
        assert (refused.status, refused.error_kind) == ("failed", "rejected_input")
        assert refused.error.startswith(
            "scenes[0].shots[1].reference_image (the previous shot's last frame): "
            "refused by rule image-safety (open_nsfw scores it"
        )
        assert refused.provider_job_id is None
        assert not refused.settled_usd
        assert len(tries["b"]) == 1  # no other model is sent the same frame
        assert {s.key: s.status for s in shots}["b"] == "failed"


class TestCache:
    def test_rerender_reuses_unchanged_shots(self, ctx, tmp_path, scripted):
        adapter = scripted()
        first_id, _ = _run(ctx, tiny_board(shot("a"), shot("b")), tmp_path, "first.mp4")
        assert len(adapter.submitted) == 2
        _, _, first_tries, _ = _rows(ctx, first_id)
        with session_scope(ctx.db_url) as session:  # as if a hosted provider had billed $0.40
            session.get_one(Attempt, first_tries["a"][0].id).settled_usd = 0.4
        edited = tiny_board(shot("a"), shot("b", prompt="a roaring fire instead"))
        job_id, status = _run(ctx, edited, tmp_path, "second.mp4")
        _, _shots, tries, kinds = _rows(ctx, job_id)
        assert status == "delivered"
        assert len(adapter.submitted) == 3  # only the edited shot rendered again
        assert tries["a"] == []
        assert kinds.count("shot.cached") == 1
        report = job_report(ctx.db_url, job_id)
        assert report["cached_shots"] == ["a"]
        assert report["saved_usd"] == pytest.approx(0.4)

    def test_a_cached_video_saves_its_video_attempts_only(self, ctx, tmp_path, scripted):
        """The tries of the shot's other stages (tts, keyframe, sheet, the job's music bed kept on
        its first shot) are saved, when reused, as their own ``saved_usd``: a reused video does
        not count them a second time."""
        scripted()
        first_id, _ = _run(ctx, tiny_board(shot("a")), tmp_path, "first.mp4")
        _, _, first_tries, _ = _rows(ctx, first_id)
        video = first_tries["a"][0]
        with session_scope(ctx.db_url) as session:  # as if a hosted provider had billed $0.40
            session.get_one(Attempt, video.id).settled_usd = 0.4
            for number, stage in ((-1, Stage.KEYFRAME), (-1_000_000, Stage.MUSIC)):
                session.add(
                    Attempt(
                        shot_id=video.shot_id, number=number, stage=stage, model_id="m",
                        provider="local", quoted_usd=0.1, settled_usd=0.1, status="accepted",
                    )
                )  # fmt: skip
        job_id, status = _run(ctx, tiny_board(shot("a")), tmp_path, "second.mp4")
        assert status == "delivered"
        assert job_report(ctx.db_url, job_id)["saved_usd"] == pytest.approx(0.4)


class TestResume:
    def test_resumed_attempt_polls_stored_job_instead_of_resubmitting(
        self, ctx, tmp_path, scripted
    ):
        adapter = scripted()
        job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "out.mp4")
        with session_scope(ctx.db_url) as session:
            shot_pk = session.scalars(select(Shot.id).where(Shot.job_id == job_id)).one()
        attempt_id, _ = attempts.begin(ctx, shot_pk)
        assert attempt_id is not None
        attempts.submit(ctx, attempt_id)  # ...and the process dies here
        assert len(adapter.submitted) == 1
        status = EmbeddedEngine(ctx).run(job_id)  # a new process resumes
        _, _, tries, _ = _rows(ctx, job_id)
        assert status == "delivered"
        assert len(adapter.submitted) == 1
        assert len(tries["a"]) == 1


class TestBudget:
    def test_reservation_refused_fails_job_without_submitting(self, ctx, tmp_path, scripted):
        adapter = scripted()
        job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "o.mp4")
        with session_scope(ctx.db_url) as session:
            job = session.get_one(Job, job_id)
            job.budget_usd, job.spent_usd = 1.0, 1.0
            shot_row = session.scalars(select(Shot).where(Shot.job_id == job_id)).one()
            route = dict(shot_row.route or {})
            route["candidates"] = [route["candidates"][0] | {"quote_usd": 0.5}]
            shot_row.route = route
        status = EmbeddedEngine(ctx).run(job_id)
        _, _, tries, _ = _rows(ctx, job_id)
        assert status == "failed"
        assert tries["a"][0].error_kind == "over_budget"
        assert adapter.submitted == []

    def test_settled_total_equals_sum_of_attempts(self, ctx, tmp_path):
        job_id, _ = _run(ctx, tiny_board(shot("a"), shot("b")), tmp_path)
        _, _, tries, _ = _rows(ctx, job_id)
        with session_scope(ctx.db_url) as session:
            total = journal_total(session, job_id)
        assert total == pytest.approx(sum(t.settled_usd or 0 for ts in tries.values() for t in ts))


class TestCancel:
    def test_cancel_stops_provider_jobs_and_releases_reservations(self, ctx, tmp_path, scripted):
        adapter = scripted(hold=True)
        job_id = create_job(ctx, tiny_board(shot("a"), shot("b")), output=tmp_path / "o.mp4")
        runner = JobRunner(ctx)
        runner.submit(job_id)
        _wait_until(lambda: _at_provider(ctx, job_id) == 2)
        runner.cancel(job_id)
        assert runner.wait(job_id, timeout=10) == "cancelled"
        job, _shots, tries, _ = _rows(ctx, job_id)
        assert sorted(adapter.cancelled) == sorted(
            t.provider_job_id for ts in tries.values() for t in ts
        )
        assert all(t.status == "cancelled" for ts in tries.values() for t in ts)
        assert job.reserved_usd == pytest.approx(0.0)
        assert threading.active_count() < 50

    def test_a_job_cancelled_during_the_submit_call_cancels_what_the_call_created(
        self, ctx, tmp_path, scripted
    ):
        gate = threading.Event()
        adapter = scripted(hold=True, submit_gate=gate)
        job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "o.mp4")
        runner = JobRunner(ctx)
        runner.submit(job_id)
        _wait_until(lambda: len(adapter.submitted) == 1)
        runner.cancel(job_id)  # the job and its attempt end while the provider call is open
        gate.set()
        assert runner.wait(job_id, timeout=10) == "cancelled"
        _, _, tries, _ = _rows(ctx, job_id)
        (attempt,) = tries["a"]
        assert adapter.cancelled == [attempt.provider_job_id]
        assert attempt.status == "cancelled"


def test_a_job_closed_while_a_finished_clip_downloads_settles_it_as_run(ctx, tmp_path, scripted):
    """The first poll already sees the job finished: the provider ran it, so closing the attempt
    before its clip is fetched settles the provider's rule for a running job (here billed, as
    Replicate's), never the free rule of a job cancelled before it started."""
    scripted()
    specs = dict(ctx.registry.provider_specs)
    rules = registry.BillingRules(
        {
            registry.BillingOutcome.CANCEL_QUEUED: "free",
            registry.BillingOutcome.CANCEL_RUNNING: "billed",
        },
        source="test",
    )
    specs["local"] = replace(specs["local"], billing=rules)
    ctx.registry = replace(ctx.registry, provider_specs=specs)
    job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "out.mp4")
    with session_scope(ctx.db_url) as session:
        row = session.scalars(select(Shot).where(Shot.job_id == job_id)).one()
        shot_pk, route = row.id, dict(row.route or {})
        route["candidates"] = [c | {"quote_usd": 0.5} for c in route["candidates"]]
        row.route = route
    attempt_id, _ = attempts.begin(ctx, shot_pk)
    assert attempt_id is not None
    attempts.submit(ctx, attempt_id)
    assert polling.poll_once(ctx, attempt_id) == "succeeded"
    assembly.cancel_job(ctx, job_id)  # ...while its clip is being downloaded
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        assert attempt.status == "cancelled"
        assert attempt.settled_usd is not None
        assert attempt.settled_usd == pytest.approx(0.5)


def _wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _at_provider(ctx, job_id: str) -> int:
    with session_scope(ctx.db_url) as session:
        rows = session.scalars(
            select(Attempt.provider_job_id)
            .join(Shot, Shot.id == Attempt.shot_id)
            .where(Shot.job_id == job_id, Attempt.provider_job_id.is_not(None))
        )
        return len(list(rows))


class TestConsistency:
    def test_mismatched_shots_are_reported_from_the_gates_profiles_without_a_decode(
        self, ctx, tmp_path, monkeypatch
    ):
        """The check before stitching flags the pair (join and scene) from the colour profiles the
        gates measured: no accepted clip is decoded again."""
        from pipeline import consistency

        decoded: list[object] = []
        monkeypatch.setattr(consistency, "profile", lambda path: decoded.append(path))
        consistency._profile.cache_clear()
        board = tiny_board(
            shot("a", prompt="a snowy field at noon"), shot("b", prompt="deep space, black void")
        )
        job_id, status = _run(ctx, board, tmp_path)
        with session_scope(ctx.db_url) as session:
            event = session.scalars(
                select(Event).where(Event.job_id == job_id, Event.kind == "job.consistency")
            ).one()
        assert status == "delivered"
        pairs = event.data["pairs"]
        assert sorted(p["kind"] for p in pairs) == ["join", "scene"]
        assert all(p["flagged"] for p in pairs)
        assert decoded == []

    def test_rerender_policy_renders_the_offending_shot_again_with_a_new_seed(
        self, ctx, tmp_path, scripted
    ):
        adapter = scripted()
        board = tiny_board(
            shot("a", prompt="a snowy field at noon"),
            shot("b", prompt="deep space, black void"),
            consistency="rerender",
        )
        job_id, status = _run(ctx, board, tmp_path)
        _, _, _tries, kinds = _rows(ctx, job_id)
        assert status == "delivered"
        assert kinds.count("shot.consistency_rerender") == 1
        assert len(adapter.submitted) == 3
        again = adapter.submitted[-1]
        first = next(r for r in adapter.submitted if r.shot_id == again.shot_id)
        assert again.seed != first.seed

    def test_a_rerender_waits_for_the_offending_shots_last_step(
        self, ctx, tmp_path, scripted, monkeypatch
    ):
        """Shot a ends and sees b ended while b's step has not moved b's cursor yet, so ``finish``
        runs meanwhile: the re-render must not be sent to a cursor still in its step (the move
        was lost and the job waited forever)."""
        from pipeline import consistency, flow
        from pipeline import steps as cursors

        adapter = scripted()
        b_ended, finish_began, finish_waited = (
            threading.Event(),
            threading.Event(),
            threading.Event(),
        )
        warm, finish = consistency.warm, flow.STEPS["finish"]

        def finish_moved_on(job_id: str) -> bool:
            """``finish`` ran and waited for b, or sent the job back to its shots (a re-render)."""
            job_cursor = cursors.get(ctx.db_url, f"job:{job_id}")
            back = finish_began.is_set() and job_cursor is not None and job_cursor.name == "shots"
            return finish_waited.is_set() or back

        def held_warm(run_ctx, shot_pk):
            with session_scope(run_ctx.db_url) as session:
                row = session.get_one(Shot, shot_pk)
                key, job_id = row.key, row.job_id
            if key == "b" and not b_ended.is_set():
                b_ended.set()  # b's status is committed; its cursor waits for finish to act
                deadline = time.monotonic() + 10
                while not finish_moved_on(job_id) and time.monotonic() < deadline:
                    time.sleep(0.01)
            elif key == "a":
                b_ended.wait(10)
            warm(run_ctx, shot_pk)

        def noted_finish(run_ctx, cur):
            finish_began.set()
            moves = finish(run_ctx, cur)
            if [m.name for m in moves] == ["finish"]:
                finish_waited.set()
            return moves

        monkeypatch.setattr(consistency, "warm", held_warm)
        monkeypatch.setitem(flow.STEPS, "finish", noted_finish)
        ctx.settings.cpu_workers = 2  # a's and b's last steps side by side
        board = tiny_board(
            shot("a", prompt="a snowy field at noon"),
            shot("b", prompt="deep space, black void"),
            consistency="rerender",
        )
        job_id = create_job(ctx, board, output=tmp_path / "out.mp4")
        assert EmbeddedEngine(ctx).start(job_id).result(timeout=30) == "delivered"
        assert finish_waited.is_set(), "finish ran while b's cursor was in its step"
        _, _, _, kinds = _rows(ctx, job_id)
        assert kinds.count("shot.consistency_rerender") == 1
        assert [r.shot_id for r in adapter.submitted].count(adapter.submitted[-1].shot_id) == 2

    def test_a_rerender_takes_the_shots_continuing_from_it_along_after_it(
        self, ctx, tmp_path, scripted, monkeypatch
    ):
        """Only a is found out of keeping; b continues from a's last frame, so b is rendered again
        too, once a's new clip exists, from that clip's last frame. Found by the explorer (seed
        12062) on a long take split into a Veo render and its extension: every re-rendered shot
        began at once, so the extension went out without the clip it extends, as a plain 7 s
        render, which Veo refuses, after the job had paid; the part after it, not found out of
        keeping, kept its clip continuing the old one; and a continuing shot's frame file was
        written once per shot, so a re-render would have started from the old clip's frame."""
        from pipeline import consistency

        adapter = scripted()

        def only_a(run_ctx, job_id):
            with session_scope(run_ctx.db_url) as session:
                shots = select(Shot.id).where(Shot.job_id == job_id, Shot.key == "a")
                return list(session.scalars(shots))

        monkeypatch.setattr(consistency, "check", only_a)
        board = tiny_board(shot("a"), shot("b", continues=True), consistency="rerender")
        job_id, status = _run(ctx, board, tmp_path)
        assert status == "delivered"
        assert [r.shot_id for r in adapter.submitted] == ["a", "b", "a", "b"]
        first, again = (r.reference_image for r in adapter.submitted if r.shot_id == "b")
        assert first is not None
        assert again is not None
        assert again.read_bytes() != first.read_bytes(), "b starts from a's new last frame"
        _, _, tries, kinds = _rows(ctx, job_id)
        assert kinds.count("shot.consistency_rerender") == 2
        assert [t.status for t in tries["b"]] == ["accepted", "accepted"]


class TestResumeMidGate:
    def test_attempt_left_gating_by_a_killed_process_is_gated_on_resume(
        self, ctx, tmp_path, scripted
    ):
        adapter = scripted()
        job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "out.mp4")
        with session_scope(ctx.db_url) as session:
            shot_pk = session.scalars(select(Shot.id).where(Shot.job_id == job_id)).one()
        attempt_id, _ = attempts.begin(ctx, shot_pk)
        assert attempt_id is not None
        attempts.submit(ctx, attempt_id)
        assert polling.poll_once(ctx, attempt_id) == "succeeded"
        assert verdicts.fetch(ctx, attempt_id)
        with session_scope(ctx.db_url) as session:
            session.get_one(Attempt, attempt_id).status = "gating"  # ...and the process dies here
        runner = JobRunner(ctx)
        runner.submit(job_id)
        assert runner.wait(job_id, timeout=60) == "delivered"
        assert len(adapter.submitted) == 1
