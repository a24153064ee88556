"""A shot the job renders in parts is re-rendered by the id the user wrote: every part, with the
edited prompt, after which the job delivers again; a pinned model, which would route each part
anew, is refused with the shot's path before anything changes."""

from __future__ import annotations

import av
import pytest
from sqlalchemy import select

from foundation.errors import InvalidInputError
from foundation.storyboard import Mode, parse_storyboard
from pipeline import rerender
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from store.db import session_scope
from store.models import Attempt, Job, Shot


def _final_job(ctx) -> str:
    """A silent 10 s shot pinned to ``luma/ray-flash-2`` (9 s at most: rendered in two parts)
    and a 2 s one, at 160x90."""
    shots = [
        {"id": "k0", "prompt": "a red kite over a beach", "duration": 10, "audio": "none",
         "model": "luma/ray-flash-2"},
        {"id": "k1", "prompt": "a lighthouse in a storm", "duration": 2, "audio": "none"},
    ]  # fmt: skip
    board = parse_storyboard(
        {"title": "parts", "budget_usd": 50, "output": {"size": "160x90"},
         "scenes": [{"id": "s", "shots": shots}]}
    )  # fmt: skip
    job_id = create_job(ctx, board, mode=Mode.FINAL)
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"
    return job_id


def _attempts(db_url: str, job_id: str) -> dict[str, list[tuple[str, str]]]:
    """Each shot's attempts as (status, prompt sent), oldest first."""
    with session_scope(db_url) as session:
        rows = session.execute(
            select(Shot.key, Attempt.status, Attempt.request)
            .join(Attempt, Attempt.shot_id == Shot.id)
            .where(Shot.job_id == job_id)
            .order_by(Attempt.id)
        ).all()
    out: dict[str, list[tuple[str, str]]] = {}
    for key, status, request in rows:
        out.setdefault(key, []).append((status, (request or {}).get("prompt", "")))
    return out


def test_a_shot_rendered_in_parts_is_rerendered_whole_by_its_own_id(emulated):
    ctx = emulated
    job_id = _final_job(ctx)
    before = _attempts(ctx.db_url, job_id)
    parts = ["k0.part1", "k0.part2"]
    assert sorted(before) == [*parts, "k1"]

    with pytest.raises(InvalidInputError) as refused:
        rerender.rerender_shot(ctx, job_id, "k0", model="kling/v3-std")
    (problem,) = refused.value.problems
    assert problem.path == "scenes[0].shots[0]"
    assert "2 parts (k0.part1, k0.part2)" in problem.message
    assert _attempts(ctx.db_url, job_id) == before, "a refusal changes nothing"

    rerender.rerender_shot(ctx, job_id, "k0", prompt="a paper boat on a canal at noon")
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        assert job.status == "planned"
        stored = [s["prompt"] for s in job.storyboard["scenes"][0]["shots"]]
    assert stored == ["a paper boat on a canal at noon"] * len(parts) + [before["k1"][-1][1]]
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"

    after = _attempts(ctx.db_url, job_id)
    for part in parts:
        added = after[part][len(before[part]) :]
        assert [status for status, _ in added][-1:] == ["accepted"], (part, added)
        assert added[-1][1].startswith("a paper boat on a canal at noon"), added
    assert after["k1"] == before["k1"], "a shot the parts do not lead into is not rendered again"
    with session_scope(ctx.db_url) as session:
        output = session.get_one(Job, job_id).output_path
    with av.open(str(output)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == 12 * 24
