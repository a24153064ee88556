"""The submit step admits an attempt before it reaches the provider: a free concurrency slot of
its model and room in the model's minute, else it reschedules itself; slots are released when the
attempt stops rendering. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.settings import get_settings
from pipeline.context import RunContext
from pipeline.planning import create_job
from registry import load_registry
from tests.distributed.conftest import LocalDriver
from tests.pipeline.conftest import shot, tiny_board

MODEL = "local/animatic"  # two jobs at once in the registry


@pytest.fixture(params=["sqlite", "postgres"])
def ctx(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> RunContext:
    if request.param == "postgres":
        monkeypatch.setenv("SHOTLINE_DATABASE_URL", request.getfixturevalue("fresh_postgres_url"))
        get_settings.cache_clear()
    context = RunContext.create("local", get_settings())
    context.settings.poll_interval_s = 0.01
    context.settings.backoff_base_s = 0.01
    context.settings.reap_after_s = 0.2
    return context


def _run_until_submit(driver: LocalDriver) -> None:
    while not any(message.step == "submit" for message in driver.ran):
        driver.step_next()


def test_a_full_model_reschedules_the_submit_step(ctx, driver, scripted, tmp_path):
    adapter = scripted()
    job_id = create_job(ctx, tiny_board(shot("a"), shot("b")), output=tmp_path / "o.mp4")
    for holder in ("elsewhere-1", "elsewhere-2"):  # every slot held by other processes
        assert ctx.limits.try_acquire(MODEL, holder, 2, 60)
    driver.submit(job_id)
    _run_until_submit(driver)
    again = driver.sent[-1]
    assert (again.step, again.delay_s > 0) == ("submit", True)
    assert adapter.submitted == []
    ctx.limits.release(MODEL, "elsewhere-1")
    assert driver.run(job_id) == "delivered"
    assert len(adapter.submitted) == 2  # one at a time through the one free slot
    assert ctx.limits.try_acquire(MODEL, "elsewhere-3", 2, 60)  # the job's slots were released


@pytest.mark.parametrize(
    ("limits", "window_s"), [("{rpm: 1}", 60.0), ("{rpm: 1, window_s: 5}", 5.0)]
)
def test_a_full_minute_reschedules_after_the_wait(
    ctx, driver, scripted, tmp_path: Path, limits: str, window_s: float
):
    """A minute, or the model's own window where the registry gives one."""
    user = tmp_path / "models.yaml"
    user.write_text(f"models:\n  - id: {MODEL}\n    limits: {limits}\n")
    ctx.registry = load_registry(user)
    adapter = scripted()
    job_id = create_job(ctx, tiny_board(shot("a"), shot("b")), output=tmp_path / "o.mp4")
    driver.submit(job_id)
    while len([m for m in driver.ran if m.step == "submit"]) < 2:
        driver.step_next()
    waiting = [m for m in driver.sent if m.step == "submit" and m.delay_s > 1]
    assert len(waiting) == 1
    assert window_s - 5 < waiting[0].delay_s <= window_s
    assert len(adapter.submitted) == 1
