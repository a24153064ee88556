"""An FFmpeg with neither libass nor libfreetype (an ``SHOTLINE_FFMPEG`` build) burns captions in
with OpenCV's Hershey font, which has printable ASCII only: "Café" came out "Caf??" after every
shot was paid for. Planning refuses such a line at its path; the wheel's FFmpeg draws it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from foundation.settings import Settings
from foundation.storyboard import Mode, StoryboardError
from pipeline.context import RunContext
from pipeline.planning import create_job, route
from stitching import burn
from store.db import session_scope
from store.models import Job
from tests.pipeline.conftest import shot, tiny_board

CAPTIONS = {"burn_in": True}


def _spoken(*lines: str):
    shots = [shot(f"k{i}", audio="dialogue", dialogue=line) for i, line in enumerate(lines)]
    return tiny_board(*shots, captions=CAPTIONS)


def _context(tmp_path: Path) -> RunContext:
    return RunContext.create("local", Settings(data_dir=tmp_path / "data"))


def test_a_line_the_fallback_font_cannot_draw_is_refused_before_any_spend(tmp_path, monkeypatch):
    monkeypatch.setattr(burn, "has_filter", lambda _name: False)
    ctx, board = _context(tmp_path), _spoken("We leave at dawn.", "Café, señor")
    with pytest.raises(StoryboardError) as caught:
        create_job(ctx, board, output=tmp_path / "out.mp4")
    (problem,) = caught.value.problems
    assert problem.path == "scenes[0].shots[1].dialogue"
    assert problem.message.startswith(
        "'é' (U+00E9), 'ñ' (U+00F1) cannot be burned in by this FFmpeg"
    )
    with session_scope(ctx.db_url) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0
    route(ctx, _spoken("We leave at dawn.", "Cafe, senor"), Mode.PREVIEW)  # ASCII: drawn
    route(ctx, board.model_copy(update={"captions": board.captions.model_copy(
        update={"burn_in": False})}), Mode.PREVIEW)  # fmt: skip


def test_an_ffmpeg_with_libass_draws_the_line(tmp_path):
    assert burn.renderers()[0] == "ass"  # the wheel's FFmpeg
    route(_context(tmp_path), _spoken("Café, señor"), Mode.PREVIEW)
