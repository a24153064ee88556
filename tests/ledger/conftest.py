"""Fixtures of the ledger tests: a run context on emulated providers (premium prices, real clips),
small storyboards, and helpers that seed attempts and cost records straight into the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from emulators import Scenario, start_emulator
from foundation.settings import get_settings
from foundation.storyboard import Storyboard, parse_storyboard
from pipeline.context import RunContext
from store.db import session_scope
from store.models import Attempt, AttemptCost, Job, Shot

PROMPTS = ("a lighthouse at dusk", "a red tram in rain", "a field of sunflowers")


def small_board(
    shots: int = 3, *, budget: float | None = 20.0, durations: tuple[float, ...] = (), **extra: Any
) -> Storyboard:
    """Shots of 4 s (the shortest premium clip, unless ``durations`` says otherwise) at 320x180
    output with ambient sound."""
    return parse_storyboard(
        {
            "title": "ledger test",
            "budget_usd": budget,
            "output": {"size": "320x180"},
            "scenes": [
                {
                    "id": "s",
                    "shots": [
                        {
                            "id": f"k{i}",
                            "prompt": PROMPTS[i % 3],
                            "duration": durations[i] if i < len(durations) else 4,
                            "audio": "ambient",
                        }
                        for i in range(shots)
                    ],
                }
            ],
        }
        | extra
    )


@contextmanager
def emulated_context() -> Iterator[RunContext]:
    """A run context on the emulated providers (fast polls), for the settings now in force."""
    ctx = RunContext.create("emulated", get_settings())
    ctx.settings.poll_interval_s = 0.02
    ctx.settings.backoff_base_s = 0.01
    with start_emulator(Scenario(seed=3)) as emu:
        ctx.base_urls, ctx.judge_base_urls = dict(emu.base_urls), dict(emu.judge_base_urls)
        yield ctx


@pytest.fixture
def emulated() -> Iterator[RunContext]:
    with emulated_context() as ctx:
        yield ctx


def seed_attempt(
    db_url: str,
    *,
    job: str = "job1",
    tenant: str = "acme",
    shot: str = "a",
    model: str = "google/veo-3.1",
    provider: str = "google",
    mode: str = "final",
    **fields: Any,
) -> int:
    """One job/shot (created when missing) and one attempt with a cost record; returns its id."""
    with session_scope(db_url) as session:
        if session.get(Job, job) is None:
            session.add(Job(id=job, tenant=tenant, title=job, mode=mode, storyboard={"scenes": []}))
            session.flush()
        row = session.query(Shot).filter_by(job_id=job, key=shot).one_or_none()
        if row is None:
            row = Shot(job_id=job, key=shot, scene_id="s", position=0)
            session.add(row)
            session.flush()
        number = session.query(Attempt).filter_by(shot_id=row.id).count() + 1
        attempt = Attempt(
            shot_id=row.id, number=number, model_id=model, provider=provider, status="reserved"
        )
        session.add(attempt)
        session.flush()
        created = fields.pop("created_at", datetime(2026, 11, 20, 12, tzinfo=UTC))
        session.add(
            AttemptCost(
                attempt_id=attempt.id,
                job_id=job,
                tenant=tenant,
                shot_key=shot,
                mode=mode,
                model_id=model,
                provider=provider,
                created_at=created,
                **({"defects": [], "judge_usd": 0.0} | fields),
            )
        )
        return attempt.id
