"""A shot the job renders in parts is re-rendered by the id the user wrote: every part, with the
edited prompt, after which the job delivers again; a pinned model, which would route each part
anew, is refused with the shot's path before anything changes."""

from __future__ import annotations

import av
import pytest
from sqlalchemy import select

from foundation.errors import InvalidInputError, NotFoundError
from foundation.storyboard import Mode, parse_storyboard
from pipeline import rerender
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from store.db import session_scope
from store.models import Attempt, Job, Shot


def _final_job(ctx) -> str:
    """A silent 10 s shot pinned to ``google/veo-3.1-lite`` (8 s at most, no extend operation:
    rendered in two parts) and a 2 s one, at 160x90."""
    shots = [
        {"id": "k0", "prompt": "a red kite over a beach", "duration": 10, "audio": "none",
         "model": "google/veo-3.1-lite"},
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


def test_shots_the_user_named_like_parts_are_rerendered_as_written(emulated):
    """A storyboard's own ``x.part1`` and ``x.part2`` (the second does not continue the first)
    are two shots: ``x``, which it never wrote, is not found (it re-rendered both), and
    ``x.part1`` is re-rendered alone."""
    ctx = emulated
    shots = [{"id": f"x.part{n}", "prompt": f"a red kite over a beach, take {n}", "duration": 4,
              "audio": "none"} for n in (1, 2)]  # fmt: skip
    board = parse_storyboard(
        {"title": "named parts", "budget_usd": 50, "output": {"size": "160x90"},
         "scenes": [{"id": "s", "shots": shots}]}
    )  # fmt: skip
    job_id = create_job(ctx, board, mode=Mode.FINAL)
    with session_scope(ctx.db_url) as session:
        session.get_one(Job, job_id).status = "failed"
    with pytest.raises(NotFoundError, match="has no shot 'x'"):
        rerender.rerender_shot(ctx, job_id, "x", prompt="a paper boat")

    rerender.rerender_shot(ctx, job_id, "x.part1", prompt="a paper boat")
    with session_scope(ctx.db_url) as session:
        stored = [
            s["prompt"] for s in session.get_one(Job, job_id).storyboard["scenes"][0]["shots"]
        ]
    assert stored == ["a paper boat", "a red kite over a beach, take 2"]
    assert {key: len(tries) for key, tries in _attempts(ctx.db_url, job_id).items()} == {
        "x.part1": 1
    }
