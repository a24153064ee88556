"""An extension whose model extends the provider's own generation by id (registry
``extend.input: generation``, Luma ray-3.2) is sent the provider job id of the attempt that made
the previous part's accepted clip as it is (``pipeline.continuity.extended_job``); without one
(the gate repaired that clip, or another model made it) it is refused before any spend."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from adapters.base import GenerationRequest
from foundation.settings import get_settings
from pipeline import continuity
from pipeline.attempts import _extension_refusal
from registry import load_registry
from store import jobs
from store.db import session_scope
from store.models import Attempt, Job, Shot

RAY = "luma/ray-3.2"


def add_take(session: Any, accepted: str, made: list[tuple[str, str, str]]) -> Shot:
    """A job of two parts; the first accepted ``accepted``; ``made``: its attempts as (model,
    provider job id, asset). Returns the second part (the extension)."""
    job = Job(id="j1", tenant="t", title="take", mode="final", storyboard={})
    parts = [Shot(key=f"take.part{n + 1}", scene_id="s", position=n) for n in range(2)]
    jobs.add_job(session, job, parts)
    session.flush()
    parts[0].asset_path = accepted
    for number, (model, job_id, asset) in enumerate(made, start=1):
        session.add(Attempt(shot_id=parts[0].id, number=number, model_id=model,
                            provider=model.split("/")[0], provider_job_id=job_id,
                            asset_path=asset))  # fmt: skip
    session.flush()
    return parts[1]


def test_the_id_of_the_generation_that_made_the_accepted_clip():
    with session_scope(get_settings().db_url) as session:
        made = [(RAY, "agents/first", "t/j1/a1.mp4"), (RAY, "agents/second", "t/j1/a2.mp4")]
        extension = add_take(session, "t/j1/a2.mp4", made)
        assert continuity.extended_job(session, extension, RAY) == "agents/second"
        assert continuity.extended_job(session, extension, "luma/ray-2") is None


def test_a_repaired_clip_has_no_generation_to_extend():
    with session_scope(get_settings().db_url) as session:
        extension = add_take(session, "t/j1/a1.repaired.mp4", [(RAY, "agents/x", "t/j1/a1.mp4")])
        assert continuity.extended_job(session, extension, RAY) is None


def request(tmp_path: Path, model: str, job: str | None) -> GenerationRequest:
    return GenerationRequest(shot_id="take.part2", prompt="a kite", duration_s=5, width=960,
                             height=540, fps=24, model=model, extend_video=tmp_path / "a.mp4",
                             extend_job=job)  # fmt: skip


def test_without_the_generation_the_extension_is_refused_before_spend(tmp_path):
    ctx: Any = SimpleNamespace(registry=load_registry())
    shot = Shot(key="take.part2", scene_id="s", position=1)
    refusal = _extension_refusal(ctx, shot, request(tmp_path, RAY, None))
    assert refusal is not None
    assert "take.part2" in refusal
    assert "nothing was sent" in refusal
    assert _extension_refusal(ctx, shot, request(tmp_path, RAY, "agents/x")) is None
    # Veo extends the clip itself: no generation id needed
    assert _extension_refusal(ctx, shot, request(tmp_path, "google/veo-3.1-fast", None)) is None
