"""One graph, two dispatchers: each scenario runs on the embedded engine (``JobRunner``) and on the
Celery engine (a real Celery worker on Redis, in this process so it shares the scripted provider),
and both must leave the same per-shot event sequence, statuses and ledger totals.

Commit (preview, then the final job of the approved shots) is a scenario too. SIGKILL and resume
are covered by ``tests/e2e/test_crash.py`` (embedded) and ``tests/distributed/test_crash_postgres.py``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

import registry
from adapters.errors import RateLimitedError, SafetyRefusalError
from foundation.settings import get_settings
from pipeline import commit, tasks
from pipeline.celery_app import QUEUES, CeleryRunner, create_celery, queue_name
from pipeline.context import RunContext
from pipeline.planning import create_job
from pipeline.rerender import rerender_shot
from pipeline.runner import JobRunner
from quality import gate
from store.db import session_scope
from store.models import Event, Job, Shot
from tests.distributed.cluster import forget_queues
from tests.journal import journal_total
from tests.pipeline.conftest import ScriptedAdapter, shot, tiny_board

Runner = JobRunner
Outcome = tuple[str, dict[str, list[str]], tuple[float, float, float]]
TIMING = ("attempt.rendering",)
"""Events whose presence depends on timing, not on the engine: whether the first poll found the
local render already done."""


@pytest.fixture
def ctx() -> RunContext:
    context = RunContext.create("local", get_settings())
    context.settings.poll_interval_s = 0.01
    context.settings.backoff_base_s = 0.01
    return context


@pytest.fixture
def celery_runner(ctx: RunContext, redis_url: str) -> Iterator[CeleryRunner]:
    """A Celery worker in this process, on queues of its own."""
    from celery.contrib.testing.worker import start_worker

    ctx.settings.broker_url = redis_url
    ctx.settings.queue_prefix = f"t{os.getpid()}-{time.monotonic_ns()}."
    tasks.install_context(ctx)
    app = create_celery(ctx.settings)
    queues = ",".join(queue_name(ctx.settings, queue) for queue in QUEUES)
    try:
        with start_worker(
            app, pool="threads", concurrency=4, perform_ping_check=False, queues=queues,
            loglevel="WARNING", shutdown_timeout=30,
        ):  # fmt: skip
            yield CeleryRunner(ctx, app)
    finally:
        forget_queues(redis_url, ctx.settings.queue_prefix)


def outcome(ctx: RunContext, job_id: str) -> Outcome:
    """The job's status, each shot's event kinds in order, and its ledger totals."""
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        per_shot: dict[str, list[str]] = {}
        for key, kind in session.execute(
            select(Event.shot_key, Event.kind).where(Event.job_id == job_id).order_by(Event.id)
        ):
            if key is not None and kind not in TIMING:
                per_shot.setdefault(key, []).append(kind)
        totals = (
            round(journal_total(session, job_id), 6),
            round(job.reserved_usd, 6),
            round(job.spent_usd, 6),
        )
        return job.status, per_shot, totals


def priced(ctx: RunContext, job_id: str, usd: float) -> None:
    """Every attempt of the job reserves ``usd``."""
    with session_scope(ctx.db_url) as session:
        for row in session.scalars(select(Shot).where(Shot.job_id == job_id)):
            route = dict(row.route or {})
            route["candidates"] = [c | {"quote_usd": usd} for c in route["candidates"]]
            row.route = route


def install(ctx: RunContext, **kwargs: Any) -> ScriptedAdapter:
    adapter = ScriptedAdapter(ctx.settings.work_dir, **kwargs)
    ctx._adapters["local"] = adapter
    return adapter


def new_job(ctx: RunContext, tmp: Path, tag: str, *shots: dict[str, Any], **top: Any) -> str:
    """A job whose prompts carry ``tag``, so no engine's run reuses the other's cached clips."""
    tagged = [s | {"prompt": f"{s.get('prompt', s['id'])} ({tag})"} for s in shots]
    job_id = create_job(ctx, tiny_board(*tagged, **top), output=tmp / f"{tag}.mp4")
    priced(ctx, job_id, 0.25)
    return job_id


def run(runner: Runner, job_id: str) -> str:
    runner.submit(job_id)
    return runner.wait(job_id, timeout=120)


Scenario = Callable[[RunContext, Runner, Path, str], Outcome]


def success(ctx: RunContext, runner: Runner, tmp: Path, tag: str) -> Outcome:
    install(ctx)
    job_id = new_job(ctx, tmp, tag, shot("a"), shot("b", continues=True))
    assert run(runner, job_id) == "delivered"
    return outcome(ctx, job_id)


def rate_limited(ctx: RunContext, runner: Runner, tmp: Path, tag: str) -> Outcome:
    install(ctx, failures={"a": [RateLimitedError("429", "local", retry_after=0.3)]})
    job_id = new_job(ctx, tmp, tag, shot("a"))
    started = time.monotonic()
    assert run(runner, job_id) == "delivered"
    assert time.monotonic() - started >= 0.3
    return outcome(ctx, job_id)


def safety_fallback(ctx: RunContext, runner: Runner, tmp: Path, tag: str) -> Outcome:
    install(ctx, failures={"a": [SafetyRefusalError("SAFETY.INPUT.TEXT", "local")]})
    job_id = new_job(ctx, tmp, tag, shot("a"))
    assert run(runner, job_id) == "delivered"
    return outcome(ctx, job_id)


def gate_retry(ctx: RunContext, runner: Runner, tmp: Path, tag: str) -> Outcome:
    install(ctx)
    real, calls = gate.evaluate, []

    def reject_first(*args: Any, **kwargs: Any) -> gate.Verdict:
        verdict = real(*args, **kwargs)
        calls.append(verdict)
        return dataclasses.replace(verdict, action="retry") if len(calls) == 1 else verdict

    gate.evaluate = reject_first
    try:
        job_id = new_job(ctx, tmp, tag, shot("a"))
        assert run(runner, job_id) == "delivered"
    finally:
        gate.evaluate = real
    return outcome(ctx, job_id)


def cancel_mid_render(ctx: RunContext, runner: Runner, tmp: Path, tag: str) -> Outcome:
    adapter = install(ctx, hold=True)
    job_id = new_job(ctx, tmp, tag, shot("a"), shot("b"))
    runner.submit(job_id)
    deadline = time.monotonic() + 30
    while not _rendering(ctx, job_id, 2) and time.monotonic() < deadline:
        time.sleep(0.02)
    runner.cancel(job_id)
    assert runner.wait(job_id, timeout=60) == "cancelled"
    assert len(adapter.cancelled) == 2
    return outcome(ctx, job_id)


def _rendering(ctx: RunContext, job_id: str, shots: int) -> bool:
    with session_scope(ctx.db_url) as session:
        kinds = session.scalars(
            select(Event.kind).where(Event.job_id == job_id, Event.kind == "attempt.rendering")
        ).all()
    return len(kinds) >= shots


def budget_refusal(ctx: RunContext, runner: Runner, tmp: Path, tag: str) -> Outcome:
    adapter = install(ctx)
    job_id = new_job(ctx, tmp, tag, shot("a"))
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        job.budget_usd, job.spent_usd = 1.0, 0.9
    assert run(runner, job_id) == "failed"
    assert adapter.submitted == []
    return outcome(ctx, job_id)


def rerender(ctx: RunContext, runner: Runner, tmp: Path, tag: str) -> Outcome:
    install(ctx)
    job_id = new_job(ctx, tmp, tag, shot("a"), shot("b"))
    assert run(runner, job_id) == "delivered"
    rerender_shot(ctx, job_id, "b", prompt=f"a roaring fire instead ({tag})")
    assert run(runner, job_id) == "delivered"
    return outcome(ctx, job_id)


def commit_approved(ctx: RunContext, runner: Runner, tmp: Path, tag: str) -> Outcome:
    """Preview two shots, commit one: the final job renders it and keeps the other's clip."""
    install(ctx)
    tagged = [shot(key, prompt=f"{key} ({tag})") for key in ("a", "b")]
    preview = commit.start_preview(ctx, tiny_board(*tagged), output=tmp / f"{tag}-preview.mp4")
    priced(ctx, preview, 0.25)
    assert run(runner, preview) == "delivered"
    result = commit.commit(ctx, preview, ["a"])
    assert (result.shots, result.kept) == (("a",), ("b",))
    priced(ctx, result.final_job_id, 0.5)
    assert run(runner, result.final_job_id) == "delivered"
    return outcome(ctx, result.final_job_id)


def voiced(ctx: RunContext, runner: Runner, tmp: Path, tag: str) -> Outcome:
    """A line spoken by the tts stage (the local voice) before the shot's video stage; the
    line carries ``tag`` too, so the second engine does not reuse the first one's speech."""
    install(ctx)
    mara = {"id": "mara", "description": "a woman", "voice": "calm, low"}
    line = {"characters": ["mara"], "dialogue": f"Go now, {tag}.", "speaker": "mara"}
    line |= {"keyframe": "none"}  # the keyframe stage has a scenario of its own
    job_id = new_job(ctx, tmp, tag, shot("a", duration=2, **line), characters=[mara])
    assert run(runner, job_id) == "delivered"
    return outcome(ctx, job_id)


def keyframed(ctx: RunContext, runner: Runner, tmp: Path, tag: str) -> Outcome:
    """Mara's reference sheet (drawn by shot a, shot b waiting for it), then each shot's keyframe
    conditioned on it, drawn by the local image model before the shot's video stage, which
    animates it; the prompts carry ``tag``, so no keyframe or clip is reused across engines (the
    sheet is: the second engine's try reuses it for $0, with the same events)."""
    install(ctx)
    mara = {"id": "mara", "description": "a woman in a red raincoat"}
    featuring = [shot(key, characters=["mara"]) for key in "ab"]  # b waits for a's sheet
    job_id = new_job(ctx, tmp, tag, *featuring, characters=[mara])
    assert run(runner, job_id) == "delivered"
    return outcome(ctx, job_id)


SCENARIOS: dict[str, Scenario] = {
    "success": success,
    "429-with-hint": rate_limited,
    "safety-fallback": safety_fallback,
    "gate-retry": gate_retry,
    "cancel-mid-render": cancel_mid_render,
    "budget-refusal": budget_refusal,
    "rerender": rerender,
    "commit": commit_approved,
    "voiced": voiced,
    "keyframed": keyframed,
}
RENDERED = [
    "attempt.reserved",
    "attempt.submitting",
    "attempt.submitted",
    "attempt.fetched",
    "attempt.gating",
    "attempt.gated",
]
ACCEPTED = [*RENDERED, "shot.accepted", "shot.normalised"]
REFUSED = ["attempt.reserved", "attempt.submitting", "attempt.failed"]
CANCELLED = [*RENDERED[:3], "attempt.closed", "shot.cancelled"]


def first(attempt: list[str]) -> list[str]:
    """The events of a shot's first attempt: the shot starts rendering once it is reserved."""
    return [attempt[0], "shot.rendering", *attempt[1:]]


EXPECTED: dict[str, dict[str, list[str]]] = {
    "success": {"a": ["shot.planned", *first(ACCEPTED)], "b": ["shot.planned", *first(ACCEPTED)]},
    "429-with-hint": {"a": ["shot.planned", *first(REFUSED), *ACCEPTED]},
    "safety-fallback": {"a": ["shot.planned", *first(REFUSED), *ACCEPTED]},
    "gate-retry": {"a": ["shot.planned", *first(RENDERED), *ACCEPTED]},
    "cancel-mid-render": {
        "a": ["shot.planned", *first(CANCELLED)],
        "b": ["shot.planned", *first(CANCELLED)],
    },
    "commit": {"a": ["shot.planned", *first(ACCEPTED)], "b": ["shot.kept", "shot.normalised"]},
    "voiced": {
        "a": [
            "shot.planned",
            *[e for e in RENDERED if e not in TIMING],  # the tts try (nothing to poll)
            *first(ACCEPTED),
        ]
    },
    "keyframed": {
        "a": [
            "shot.planned",
            *[e for e in RENDERED if e not in TIMING],  # mara's sheet try (nothing to poll)
            *[e for e in RENDERED if e not in TIMING],  # the keyframe try, conditioned on it
            *first(ACCEPTED),
        ],
        "b": ["shot.planned", *[e for e in RENDERED if e not in TIMING], *first(ACCEPTED)],
    },
    "budget-refusal": {
        "a": ["shot.planned", "attempt.reserved", "attempt.failed", "shot.failed", "job.failed"]
    },
}


@pytest.fixture
def two_models(ctx: RunContext, tmp_path: Path) -> None:
    """A second local model, so a refused shot has somewhere to fall back to."""
    models = yaml.safe_load((Path(registry.__file__).parent / "models.yaml").read_text())["models"]
    second = next(m for m in models if m["id"] == "local/animatic") | {"id": "local/animatic-b"}
    (tmp_path / "extra.yaml").write_text(yaml.safe_dump({"models": [second]}))
    ctx.registry = registry.load_registry(tmp_path / "extra.yaml")


@pytest.mark.services
@pytest.mark.serial
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_both_engines_leave_the_same_rows(
    name: str, ctx: RunContext, tmp_path: Path, two_models: None, celery_runner: CeleryRunner
) -> None:
    scenario = SCENARIOS[name]
    embedded = scenario(ctx, JobRunner(ctx), tmp_path, "embedded")
    distributed = scenario(ctx, celery_runner, tmp_path, "celery")
    assert embedded == distributed
    if name in EXPECTED:
        assert embedded[1] == EXPECTED[name]
