"""Tenants share a contended model fairly: a one-shot job of one tenant, started while another
tenant's big job holds every slot of the model, takes one of the next free slots instead of
waiting behind most of the big job. The embedded engine against the emulator (each provider job
takes a while), on a model the registry override limits to two jobs at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from emulators import Scenario, start_emulator
from foundation.settings import Settings
from pipeline.admission import holder_of
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from pipeline.limits import WINDOW_S, ProviderLimits
from pipeline.planning import create_job
from registry import load_registry
from store.db import session_scope
from store.models import Attempt, Shot
from tests.pipeline.conftest import tiny_board

MODEL = "kling/v3-std"


class Recorded:
    """``ProviderLimits`` that records every slot asked for: (when, holder, whether given)."""

    def __init__(self, inner: ProviderLimits) -> None:
        self.inner = inner
        self.asks: list[tuple[float, str, bool]] = []
        self._lock = threading.Lock()

    def try_acquire(self, model_id: str, holder: str, *args: Any, **kwargs: Any) -> bool:
        given = self.inner.try_acquire(model_id, holder, *args, **kwargs)
        with self._lock:
            self.asks.append((time.monotonic(), holder, given))
        return given

    def release(self, model_id: str, holder: str) -> None:
        self.inner.release(model_id, holder)

    def try_take(
        self, model_id: str, rpm: int, holder: str = "", window_s: float = WINDOW_S
    ) -> float:
        return self.inner.try_take(model_id, rpm, holder, window_s)

    def sent(self, model_id: str, holder: str) -> None:
        self.inner.sent(model_id, holder)


def _board(title: str, count: int, marker: str) -> Any:
    shots = [
        {"id": f"s{n}", "prompt": f"a kite over a beach, {marker} take {n}", "duration": 1,
         "model": MODEL}
        for n in range(count)
    ]  # fmt: skip
    return tiny_board(*shots, title=title)


def _holders(ctx: RunContext, job_id: str) -> set[str]:
    with session_scope(ctx.db_url) as session:
        ids = session.scalars(
            select(Attempt.id).join(Shot, Shot.id == Attempt.shot_id).where(Shot.job_id == job_id)
        ).all()
    return {holder_of(i) for i in ids}


def test_a_small_job_is_not_queued_behind_another_tenants_big_one(tmp_path: Path):
    user = tmp_path / "models.yaml"
    user.write_text(f"models:\n  - id: {MODEL}\n    limits: {{concurrency: 2}}\n")
    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    ctx.registry = load_registry(user)
    ctx.settings.poll_interval_s = 0.05  # a refused submit asks again after 0.5 s
    ctx.limits = recorded = Recorded(ctx.limits)
    provider_model = ctx.registry.get(MODEL).provider_model
    scenario = Scenario.model_validate(
        {"seed": 5, "media": {"max_side": 160},
         "defaults": {"latency": {"dist": "fixed", "seconds": 0.8}}}
    )  # fmt: skip
    with start_emulator(scenario) as emulator:
        ctx.base_urls = dict(emulator.base_urls)
        ctx.judge_base_urls = dict(emulator.judge_base_urls)
        engine = EmbeddedEngine(ctx)
        big = create_job(ctx, _board("big", 8, "tenant-a"), output=tmp_path / "a.mp4", tenant="a")
        big_done = engine.start(big)
        deadline = time.monotonic() + 60
        while emulator.stats()["submissions"].get(provider_model, 0) < 2:  # a holds both slots
            assert time.monotonic() < deadline, "the big job never reached the provider"
            time.sleep(0.02)
        small = create_job(
            ctx, _board("small", 1, "tenant-b"), output=tmp_path / "b.mp4", tenant="b"
        )
        small_done = engine.start(small)
        assert small_done.result(timeout=120) == "delivered"
        assert big_done.result(timeout=120) == "delivered"
        jobs = [j for j in emulator.emulator.jobs.values() if j.model == provider_model]
    arrivals = [j.spec.prompt for j in sorted(jobs, key=lambda j: j.created_at)]
    assert len(arrivals) == 9
    assert "tenant-b" not in arrivals[-1]  # b's shot went before a's last
    # while b's attempt waited, a took at most one freed slot (both of a's freed together: a,
    # holding none, and b each take one); before, a's many waiting attempts took nearly all
    b_holders, a_holders = _holders(ctx, small), _holders(ctx, big)
    asked = min(at for at, holder, _ in recorded.asks if holder in b_holders)
    given = min(at for at, holder, ok in recorded.asks if holder in b_holders and ok)
    taken: dict[str, float] = {}
    for at, holder, ok in recorded.asks:
        if ok and holder in a_holders:
            taken.setdefault(holder, at)
    assert len([at for at in taken.values() if asked < at < given]) <= 1, arrivals
