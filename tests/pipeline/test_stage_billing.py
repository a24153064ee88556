"""A failed stage try (sheet, keyframe) is settled by its provider's billing rules, as a video
attempt is (``ledger.service.settle_failure``): a request the provider refused costs nothing, a
fal request the client gave up on is cancelled at fal and settled as a cancellation at the stage
it had reached, a fal request that completed with an error and a synchronous 200 whose answer
could not be used are provider jobs that ran. A failure another try may not meet (a 503) is tried
again on the same model, at most ``MAX_SAME_MODEL`` times, as a video attempt's is; a refusal moves
on at once. Driven against the emulator."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from adapters.factory import EMULATOR_KEY
from adapters.image_clients import build_image_client
from foundation.settings import Settings
from pipeline import keyframe_stage, sheet_stage
from pipeline.context import RunContext
from pipeline.planning import create_job
from pipeline.policy import MAX_SAME_MODEL
from shotline.emulated import use_emulator
from store.db import session_scope
from store.models import Attempt, AttemptCost, Job, Shot
from tests import web
from tests.pipeline.conftest import shot, stage_to_end, tiny_board

MARA = {"id": "mara", "description": "woman, red raincoat"}
SCHNELL = "fal-ai/flux/schnell"  # the sheet's first model (fal/flux-schnell)
GEMINI = "gemini-2.5-flash-image"  # the keyframe's first model


@pytest.fixture
def stages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Draw mara's sheet and shot b's keyframe on an emulator playing a scenario; fal's image
    client gives up after 0.3 s. Gives the context and shot b's id."""
    build = build_image_client

    def quick(api: str, provider: str, **kwargs: Any) -> Any:
        return build(api, provider, **kwargs, timeout=0.3 if provider == "fal" else 120.0)

    monkeypatch.setattr(keyframe_stage, "build_image_client", quick)

    with ExitStack() as stack:

        def run(scenario: dict[str, Any]) -> tuple[RunContext, int]:
            path = tmp_path / "scenario.yaml"
            path.write_text(yaml.safe_dump(scenario))
            ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
            use_emulator(ctx, stack, path)
            board = tiny_board(shot("a"), shot("b", characters=["mara"]), characters=[MARA])
            job_id = create_job(ctx, board, output=tmp_path / "out.mp4")
            with session_scope(ctx.db_url) as session:
                where = (Shot.job_id == job_id, Shot.key == "b")
                shot_pk = session.scalars(select(Shot.id).where(*where)).one()
            stage_to_end(sheet_stage.draw, ctx, shot_pk)
            stage_to_end(keyframe_stage.draw, ctx, shot_pk)
            return ctx, shot_pk

        yield run


def first_try(ctx: RunContext, shot_pk: int, stage: str) -> tuple[Attempt, AttemptCost]:
    with session_scope(ctx.db_url) as session:
        attempt = session.scalars(
            select(Attempt)
            .where(Attempt.shot_id == shot_pk, Attempt.stage == stage)
            .order_by(Attempt.number.desc())
            .limit(1)
        ).one()
        cost = session.scalars(
            select(AttemptCost).where(AttemptCost.attempt_id == attempt.id)
        ).one()
        session.expunge_all()
    return attempt, cost


def fal_status(ctx: RunContext, job: str) -> dict[str, Any]:
    answer = web.get(
        f"{ctx.base_urls['fal']}/{job}/status", headers={"Authorization": f"Key {EMULATOR_KEY}"}
    )
    return dict(answer.json())


def slow(queued_fraction: float) -> dict[str, Any]:
    latency = {"dist": "fixed", "seconds": 30.0, "queued_fraction": queued_fraction}
    return {"models": {SCHNELL: {"latency": latency}}}


def test_a_fal_sheet_given_up_while_queued_is_cancelled_at_fal_and_costs_nothing(stages):
    ctx, shot_pk = stages(slow(queued_fraction=1.0))
    attempt, cost = first_try(ctx, shot_pk, "sheet")
    assert (attempt.model_id, attempt.status, attempt.error_kind) == (
        "fal/flux-schnell", "failed", "timeout",
    )  # fmt: skip
    assert "/requests/" in str(attempt.provider_job_id)
    status = fal_status(ctx, str(attempt.provider_job_id))
    assert (status["status"], status.get("error_type")) == ("COMPLETED", "request_cancelled")
    assert attempt.settled_usd == 0.0
    assert (cost.billing_outcome, cost.billing_basis, cost.billing_uncertain) == (
        "cancel_queued", "free", False,
    )  # fmt: skip


def test_a_fal_sheet_given_up_while_running_is_cancelled_and_settles_its_quote_uncertain(stages):
    ctx, shot_pk = stages(slow(queued_fraction=0.0))
    attempt, cost = first_try(ctx, shot_pk, "sheet")
    assert (attempt.model_id, attempt.error_kind) == ("fal/flux-schnell", "timeout")
    assert fal_status(ctx, str(attempt.provider_job_id)).get("error_type") == "request_cancelled"
    assert attempt.quoted_usd > 0
    assert attempt.settled_usd == pytest.approx(attempt.quoted_usd)
    assert (cost.billing_outcome, cost.billing_basis, cost.billing_uncertain) == (
        "cancel_running", "unknown", True,
    )  # fmt: skip
    with session_scope(ctx.db_url) as session:  # the job's spend counts it
        job = session.get_one(Job, session.get_one(Shot, shot_pk).job_id)
        tries = session.scalars(select(Attempt).join(Shot).where(Shot.job_id == job.id)).all()
        assert job.spent_usd == pytest.approx(sum(t.settled_usd or 0 for t in tries))
        assert job.reserved_usd == pytest.approx(0.0)


def test_a_fal_image_completed_with_an_error_settles_its_quote_uncertain(stages):
    ctx, shot_pk = stages(
        {"models": {SCHNELL: {"faults": [{"kind": "job_failure", "calls": [1]}]}}}
    )
    attempt, cost = first_try(ctx, shot_pk, "sheet")
    assert (attempt.model_id, attempt.error_kind) == ("fal/flux-schnell", "provider_failure")
    assert attempt.provider_job_id
    assert attempt.settled_usd == pytest.approx(attempt.quoted_usd)
    assert (cost.billing_outcome, cost.billing_basis, cost.billing_uncertain) == (
        "failure", "unknown", True,
    )  # fmt: skip


def test_a_synchronous_200_whose_answer_is_unusable_is_settled_as_generated(stages):
    ctx, shot_pk = stages(
        {"models": {GEMINI: {"faults": [{"kind": "truncated_json", "calls": [1]}]}}}
    )
    attempt, cost = first_try(ctx, shot_pk, "keyframe")
    assert (attempt.model_id, attempt.status) == ("gemini/gemini-2.5-flash-image", "failed")
    assert attempt.provider_job_id is None  # no job id: the answer was the image
    assert attempt.quoted_usd > 0
    assert attempt.settled_usd == pytest.approx(attempt.quoted_usd)
    assert (cost.billing_outcome, cost.billing_basis, cost.billing_uncertain) == (
        "success", "billed", False,
    )  # fmt: skip


def test_a_synchronous_error_status_made_nothing_and_costs_nothing(stages):
    ctx, shot_pk = stages({"models": {GEMINI: {"faults": [{"kind": "bad_request", "calls": [1]}]}}})
    attempt, cost = first_try(ctx, shot_pk, "keyframe")
    assert (attempt.model_id, attempt.error_kind) == (
        "gemini/gemini-2.5-flash-image", "rejected_input",
    )  # fmt: skip
    assert attempt.settled_usd == 0.0
    assert (cost.billing_outcome, cost.billing_basis) == (None, "no_job")


def keyframe_tries(ctx: RunContext, shot_pk: int) -> list[tuple[str, str, str | None]]:
    with session_scope(ctx.db_url) as session:
        rows = session.execute(
            select(Attempt.model_id, Attempt.status, Attempt.error_kind)
            .where(Attempt.shot_id == shot_pk, Attempt.stage == "keyframe")
            .order_by(Attempt.number.desc())
        ).all()
    return [(model, status, kind) for model, status, kind in rows]


def test_a_503_is_tried_again_on_the_same_model(stages):
    ctx, shot_pk = stages(
        {"models": {GEMINI: {"faults": [{"kind": "server_error", "calls": [1]}]}}}
    )
    gemini = "gemini/gemini-2.5-flash-image"
    assert keyframe_tries(ctx, shot_pk) == [
        (gemini, "failed", "transient"), (gemini, "accepted", None),
    ]  # fmt: skip


def test_a_model_failing_every_try_is_left_after_max_same_model_and_a_refusal_at_once(stages):
    calls = list(range(1, MAX_SAME_MODEL + 1))
    ctx, shot_pk = stages(
        {"models": {GEMINI: {"faults": [{"kind": "server_error", "calls": calls}]}}}
    )
    tries = keyframe_tries(ctx, shot_pk)
    assert tries[:-1] == [("gemini/gemini-2.5-flash-image", "failed", "transient")] * len(calls)
    assert tries[-1][0] != "gemini/gemini-2.5-flash-image"
    assert tries[-1][1:] == ("accepted", None)

    ctx, shot_pk = stages({"models": {GEMINI: {"faults": [{"kind": "bad_request", "calls": [1]}]}}})
    refused, drawn = keyframe_tries(ctx, shot_pk)
    assert refused == ("gemini/gemini-2.5-flash-image", "failed", "rejected_input")
    assert drawn[0] != refused[0]
    assert drawn[1] == "accepted"


def test_a_try_whose_job_is_cancelled_while_the_model_draws_ends_as_the_cancel_left_it(
    stages, monkeypatch
):
    """The drawn sheet came back after the job was cancelled (its attempt closed and settled as
    an unstarted job, $0): concluding it moved a cancelled attempt to submitted, and the step
    crashed (explorer seed 12104, faults 0.15). The try now ends closed, settled at what the
    drawing cost, on the job's spend."""
    from pipeline import assembly

    check = sheet_stage._check

    def cancelled_meanwhile(ctx, attempt_id, owner, raw, ref, cost):
        assert assembly.cancel_job(ctx, owner.id)
        return check(ctx, attempt_id, owner, raw, ref, cost)

    monkeypatch.setattr(sheet_stage, "_check", cancelled_meanwhile)
    ctx, shot_pk = stages({})
    attempt, _ = first_try(ctx, shot_pk, "sheet")
    assert attempt.status == "cancelled"
    with session_scope(ctx.db_url) as session:
        shot = session.get_one(Shot, shot_pk)
        costs = session.scalars(
            select(AttemptCost).where(AttemptCost.attempt_id == attempt.id)
        ).all()
        assert shot.status == "cancelled"
        job = session.get_one(Job, shot.job_id)
        assert job.status == "cancelled"
        settled = session.get_one(Attempt, attempt.id).settled_usd
    assert len(costs) == 1
    assert settled is not None
    assert settled > 0, "the sheet was drawn: it is paid for"
    assert (costs[0].billing_outcome, costs[0].billing_basis) == ("success", "billed")
    assert job.spent_usd == pytest.approx(settled)
