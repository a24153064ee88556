"""A provider job the provider no longer knows (expired, deleted, lost in an emulator restart) is
``job_lost``: the attempt fails with that kind, the shot is rendered again on the same model and
delivered, the lost job is settled at its quote flagged uncertain (it may have been billed), and
the provider's health counts it. Driven against an emulator that forgets the first job."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import yaml
from sqlalchemy import select

from foundation.settings import Settings
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from pipeline.report import job_report
from router import BreakerConfig, BreakerState, HealthBook
from shotline.emulated import use_emulator
from store.db import session_scope
from store.models import Attempt, AttemptCost
from tests.pipeline.conftest import shot, tiny_board

FORGETS_FIRST_JOB = {"seed": 3, "defaults": {"faults": [{"kind": "lost_job", "calls": [1]}]}}


def test_a_shot_whose_job_the_provider_lost_is_rendered_again_and_delivered(tmp_path: Path):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(FORGETS_FIRST_JOB))
    with ExitStack() as stack:
        ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
        ctx.settings.poll_interval_s = 0.01
        ctx.settings.backoff_base_s = 0.01
        use_emulator(ctx, stack, path)
        job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "out.mp4")
        assert EmbeddedEngine(ctx).run(job_id) == "delivered"
        with session_scope(ctx.db_url) as session:
            rows = session.execute(
                select(Attempt, AttemptCost)
                .join(AttemptCost, AttemptCost.attempt_id == Attempt.id)
                .order_by(Attempt.number)
            ).all()
            tried = [
                (a.status, a.error_kind, a.model_id, a.provider_job_id, c.billing_outcome,
                 c.billing_uncertain, a.settled_usd, a.quoted_usd, a.error)
                for a, c in rows
            ]  # fmt: skip
    assert [t[:2] for t in tried] == [("failed", "job_lost"), ("accepted", None)]
    lost, accepted = tried
    assert lost[2] == accepted[2], "retried on the same model, not moved down the chain"
    assert lost[3]
    assert lost[3] != accepted[3], "a second provider job"
    assert lost[4:6] == ("lost", True), "settled as possibly billed, flagged uncertain"
    assert lost[6] == lost[7] > 0
    error = str(lost[8])
    assert lost[3].rsplit("/", 1)[-1] in error
    assert "is gone" in error
    report = job_report(ctx.db_url, job_id)
    log = report["shots"][0]["attempt_log"]
    assert [(row["status"], row["error_kind"]) for row in log] == [
        ("failed", "job_lost"), ("accepted", None)]  # fmt: skip
    assert (tmp_path / "out.mp4").stat().st_size > 0


def test_lost_jobs_count_against_the_providers_health():
    book = HealthBook(model_config=BreakerConfig(failure_threshold=2))
    book.record_failure("emu/model", "rejected_input")
    book.record_failure("emu/model", "rejected_input")
    assert book.state("emu/model") is BreakerState.CLOSED
    book.record_failure("emu/model", "job_lost")
    book.record_failure("emu/model", "job_lost")
    assert book.state("emu/model") is BreakerState.OPEN
