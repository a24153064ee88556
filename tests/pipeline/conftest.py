from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.base import Asset, GenerationRequest, JobState, PollResult
from adapters.errors import ProviderError
from adapters.local import LocalAnimaticAdapter
from foundation.settings import get_settings
from foundation.states import AttemptStatus
from foundation.storyboard import parse_storyboard
from pipeline import attempts
from pipeline.context import RunContext
from pipeline.planning import create_job
from pipeline.transitions import attempt_to
from registry import Submission
from store.db import session_scope
from store.models import Attempt, Shot


def tiny_board(*shots: dict[str, Any], **top: Any):
    data = {
        "title": "tiny",
        "output": {"size": "160x90", "fps": 24},
        "scenes": [{"id": "s", "shots": list(shots)}],
    }
    return parse_storyboard(data | top)


LOOKS = ["forest", "ocean", "sunset", "snow", "fire", "desert"]


def stage_to_end(draw: Callable[[RunContext, int], float], ctx: RunContext, shot_pk: int) -> int:
    """Run a stage before the video (``sheet_stage.draw``, ``keyframe_stage.draw``...) again after
    every wait it asks for (a model's slot, the backoff before another try of a model: not slept
    here) until it ends; how many runs it took."""
    for runs in range(1, 13):
        if draw(ctx, shot_pk) == 0.0:
            return runs
    raise AssertionError(f"{draw.__module__} still waits after 12 runs")


def shot(key: str, **extra: Any) -> dict[str, Any]:
    look = LOOKS[sum(map(ord, key)) % len(LOOKS)]
    return {"id": key, "prompt": f"a calm {look} scene, shot {key}", "duration": 1} | extra


class ScriptedAdapter:
    """The real local renderer, with scripted failures and a record of every call."""

    provider = "local"

    def __init__(
        self,
        work_dir: Path,
        failures: dict[str, list[ProviderError]] | None = None,
        hold: bool = False,
        submit_gate: threading.Event | None = None,
    ):
        self.inner = LocalAnimaticAdapter(work_dir)
        self.failures = failures or {}
        self.hold = hold
        self.submit_gate = submit_gate  # when given, submit waits for it after recording the call
        self.submitted: list[GenerationRequest] = []
        self.cancelled: list[str] = []

    def submit(self, request: GenerationRequest) -> str:
        self.submitted.append(request)
        if self.submit_gate is not None:
            self.submit_gate.wait(timeout=30)
        queue = self.failures.get(request.model) or self.failures.get(request.shot_id) or []
        if queue:
            raise queue.pop(0)
        return self.inner.submit(request)

    def poll(self, job_id: str) -> PollResult:
        if self.hold and job_id not in self.cancelled:
            return PollResult(JobState.RUNNING, progress=0.1)
        return self.inner.poll(job_id)

    def cancel(self, job_id: str) -> bool:
        self.cancelled.append(job_id)
        return True

    def fetch(self, job_id: str, dest_dir: Path) -> Asset:
        return self.inner.fetch(job_id, dest_dir)


@pytest.fixture
def ctx() -> RunContext:
    context = RunContext.create("local", get_settings())
    context.settings.poll_interval_s = 0.01
    context.settings.backoff_base_s = 0.01
    return context


@pytest.fixture
def scripted(ctx: RunContext):
    def install(**kwargs: Any) -> ScriptedAdapter:
        adapter = ScriptedAdapter(ctx.settings.work_dir, **kwargs)
        ctx._adapters["local"] = adapter
        return adapter

    return install


def lost_create(
    ctx: RunContext, tmp_path: Any, mechanism: str, tenant: str = "local"
) -> tuple[str, int]:
    """A one-shot job whose first attempt was left in ``submitting`` by a dead process."""
    specs = dict(ctx.registry.provider_specs)
    specs["local"] = replace(specs["local"], submission=Submission(mechanism, "test"))  # type: ignore[arg-type]
    ctx.registry = replace(ctx.registry, provider_specs=specs)
    job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "out.mp4", tenant=tenant)
    with session_scope(ctx.db_url) as session:
        shot_pk = session.scalars(select(Shot.id).where(Shot.job_id == job_id)).one()
        for row in session.scalars(select(Shot).where(Shot.job_id == job_id)):
            route = dict(row.route or {})
            route["candidates"] = [c | {"quote_usd": 0.5} for c in route["candidates"]]
            row.route = route
    attempt_id, _ = attempts.begin(ctx, shot_pk)
    assert attempt_id is not None
    with session_scope(ctx.db_url) as session:
        attempt_to(session, session.get_one(Attempt, attempt_id), AttemptStatus.SUBMITTING)
    return job_id, attempt_id
