"""Re-render one shot: through the API and through ``pipeline.rerender`` directly."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from foundation.errors import ConflictError, InvalidInputError, NotFoundError
from foundation.storyboard import parse_storyboard
from pipeline.planning import create_job
from pipeline.requests import request_record
from pipeline.rerender import rerender_shot
from pipeline.runner import JobRunner
from store.db import session_scope
from store.models import Attempt, Job, Shot
from store.records import ShotRoute
from tests.api.conftest import tiny_board, wait_for_job


class TestRerenderApi:
    def test_new_prompt_renders_only_that_shot_and_restitches(self, client, headers):
        job_id = client.post(
            "/v1/jobs", json={"storyboard": tiny_board(2)}, headers=headers
        ).json()["id"]
        before = wait_for_job(client, job_id, headers)
        first_output = client.get(f"/v1/jobs/{job_id}/output", headers=headers).content

        answer = client.post(
            f"/v1/jobs/{job_id}/shots/shot2/rerender",
            json={"prompt": "a lighthouse in a storm"},
            headers=headers,
        )
        assert answer.status_code == 202
        after = wait_for_job(client, job_id, headers)
        assert after["status"] == "delivered"
        shots = {s["id"]: s for s in after["shots"]}
        assert shots["shot1"]["attempts"] == 1
        assert shots["shot2"]["attempts"] == 2
        assert shots["shot2"]["attempt_log"][0] == before["shots"][1]["attempt_log"][0]
        assert client.get(f"/v1/jobs/{job_id}/output", headers=headers).content != first_output

    def test_running_job_conflicts_and_unknown_shot_is_404(self, client, headers):
        job_id = client.post(
            "/v1/jobs", json={"storyboard": tiny_board(1)}, headers=headers
        ).json()["id"]
        wait_for_job(client, job_id, headers)
        missing = client.post(f"/v1/jobs/{job_id}/shots/nope/rerender", headers=headers)
        assert missing.status_code == 404
        unknown_model = client.post(
            f"/v1/jobs/{job_id}/shots/shot1/rerender", json={"model": "x/y"}, headers=headers
        )
        assert unknown_model.status_code in (404, 422)
        assert unknown_model.json()["error"] != "internal"


class TestRerenderService:
    @pytest.fixture
    def delivered(self, ctx):
        job_id = create_job(ctx, parse_storyboard(tiny_board(2)), tenant="t")
        runner = JobRunner(ctx)
        runner.submit(job_id)
        assert runner.wait(job_id, timeout=60) == "delivered"
        yield job_id, runner
        runner.shutdown()

    def test_resets_one_shot_keeps_its_attempts_and_opens_the_next(self, ctx, delivered):
        job_id, runner = delivered
        attempt_id = rerender_shot(ctx, job_id, "shot1", prompt="a new prompt")
        with session_scope(ctx.db_url) as session:
            job = session.get_one(Job, job_id)
            shot = session.scalars(select(Shot).filter_by(job_id=job_id, key="shot1")).one()
            other = session.scalars(select(Shot).filter_by(job_id=job_id, key="shot2")).one()
            attempts = list(
                session.scalars(select(Attempt).filter_by(shot_id=shot.id).order_by(Attempt.number))
            )
            assert (job.status, job.stage) == ("planned", "planned")
            assert job.storyboard["scenes"][0]["shots"][0]["prompt"] == "a new prompt"
            assert (shot.status, shot.asset_path, shot.segment) == ("planned", None, None)
            assert other.status == "normalised"
            assert [(a.number, a.status) for a in attempts] == [(1, "accepted"), (2, "reserved")]
            assert attempts[-1].id == attempt_id
            assert (attempts[-1].request or {})["prompt"] == "a new prompt"
            # the one builder of a shot's attempts: its client reference (Kling's
            # external_task_id, so a lost create is not billed twice) as every attempt has
            route = ShotRoute.from_json(shot.route).primary
            assert route is not None
            assert attempts[-1].request == request_record(ctx, session, job, shot, route, 2)
            assert attempts[-1].request["extra"]["attempt_key"] == f"{job_id}-shot1-2"
        runner.submit(job_id)
        assert runner.wait(job_id, timeout=60) == "delivered"

    def test_the_shots_continuing_from_it_are_rendered_again_after_it(self, ctx):
        """shot2 continues from shot1's last frame and shot3 from shot2's: re-rendering shot1
        renders both again, each after the shot before it and from its new clip's last frame
        (before, they kept clips continuing shot1's old one)."""
        board = tiny_board(3)
        for spec in board["scenes"][0]["shots"][1:]:
            spec["continues"] = True
        job_id = create_job(ctx, parse_storyboard(board), tenant="t")
        runner = JobRunner(ctx)
        try:
            runner.submit(job_id)
            assert runner.wait(job_id, timeout=60) == "delivered"
            asked = rerender_shot(ctx, job_id, "shot1", prompt="a lighthouse in a storm")
            with session_scope(ctx.db_url) as session:
                opened = session.execute(
                    select(Shot.key, Attempt.id, Attempt.status)
                    .join(Attempt, Attempt.shot_id == Shot.id)
                    .where(Shot.job_id == job_id, Attempt.number == 2)
                    .order_by(Shot.position)
                ).all()
            assert [(key, status) for key, _, status in opened] == [
                ("shot1", "reserved"), ("shot2", "reserved"), ("shot3", "reserved")
            ]  # fmt: skip
            assert opened[0][1] == asked
            runner.submit(job_id)
            assert runner.wait(job_id, timeout=60) == "delivered"
        finally:
            runner.shutdown()
        with session_scope(ctx.db_url) as session:
            rows = session.execute(
                select(Shot.key, Attempt.status)
                .join(Attempt, Attempt.shot_id == Shot.id)
                .where(Shot.job_id == job_id, Attempt.number == 2)
                .order_by(Shot.position)
            ).all()
        assert [tuple(row) for row in rows] == [
            ("shot1", "accepted"), ("shot2", "accepted"), ("shot3", "accepted")
        ]  # fmt: skip
        frames = sorted(ctx.work_dir(job_id).glob("lastframe-shot2-*.png"))
        assert len(frames) == 2, "shot2 started from shot1's new clip, not the old frame file"

    def test_refusals(self, ctx, delivered):
        job_id, _ = delivered
        with pytest.raises(NotFoundError):
            rerender_shot(ctx, "nope", "shot1")
        with pytest.raises(NotFoundError):
            rerender_shot(ctx, job_id, "nope")
        with pytest.raises(InvalidInputError):
            rerender_shot(ctx, job_id, "shot1", prompt=" ")
        rerender_shot(ctx, job_id, "shot1")
        with pytest.raises(ConflictError):
            rerender_shot(ctx, job_id, "shot1")
