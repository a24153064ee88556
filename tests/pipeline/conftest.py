from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from adapters.base import Asset, GenerationRequest, JobState, PollResult
from adapters.errors import ProviderError
from adapters.local import LocalAnimaticAdapter
from foundation.settings import get_settings
from foundation.storyboard import parse_storyboard
from pipeline.context import RunContext


def tiny_board(*shots: dict[str, Any], **top: Any):
    data = {
        "title": "tiny",
        "output": {"size": "160x90", "fps": 24},
        "scenes": [{"id": "s", "shots": list(shots)}],
    }
    return parse_storyboard(data | top)


LOOKS = ["forest", "ocean", "sunset", "snow", "fire", "desert"]


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
