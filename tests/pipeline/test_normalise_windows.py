"""The engine renders each crossfade window beside the normalise of the later of its two shots to
arrive (the earlier one's segment read back from the store), so the stitch after the last shot
has none left to make; and it reads only those neighbours' segments, not the whole job's."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import stitching
from pipeline import assembly
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from tests.pipeline.conftest import shot, tiny_board

SHOTS = ("a", "b", "c", "d")


def test_every_join_is_rendered_beside_the_normalise_of_its_later_shot(ctx, monkeypatch):
    board = tiny_board(shot(SHOTS[0]), *(shot(k, transition="crossfade:0.25") for k in SHOTS[1:]))
    made: dict[str, tuple[bool, bool]] = {}
    read: list[list[str] | None] = []
    fanout, segments_of = stitching.normalise_fanout, assembly._segments_of

    def recording_fanout(source: Any, profile: Any, frames: int, out: Any, **kw: Any) -> Any:
        made[out.stem.removeprefix("segment-")] = (
            kw["before"] is not None,
            kw["after"] is not None,
        )
        return fanout(source, profile, frames, out, **kw)

    def recording_segments_of(session: Any, job_id: str, keys: list[str] | None = None) -> Any:
        read.append(keys)
        return segments_of(session, job_id, keys)

    monkeypatch.setattr(stitching, "normalise_fanout", recording_fanout)
    monkeypatch.setattr(assembly, "_segments_of", recording_segments_of)
    ctx.settings.cpu_workers = 1  # one normalise at a time: two side by side may miss each other
    job_id = create_job(ctx, board)
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"

    assert sorted(made) == sorted(SHOTS)
    for earlier, later in pairwise(SHOTS):
        # whichever of the two was normalised second saw the other's segment
        assert made[later][0] or made[earlier][1], (earlier, later, made)
    neighbours = [keys for keys in read if keys is not None]
    assert len(neighbours) == len(SHOTS)
    assert all(len(keys) <= 3 for keys in neighbours), neighbours
