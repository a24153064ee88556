"""An FFmpeg with neither libass nor libfreetype (an ``SHOTLINE_FFMPEG`` build) burns captions in
with OpenCV's built-in font, which draws Latin and Cyrillic but shows Greek and CJK as ``?``
(OpenCV 5.1), after every shot was paid for. Planning refuses such a line at its path; the
wheel's FFmpeg draws it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from foundation.settings import Settings
from foundation.storyboard import Mode, StoryboardError
from media.caption import FONT, undrawable
from pipeline.context import RunContext
from pipeline.planning import create_job, route
from stitching import burn
from store.db import session_scope
from store.models import Job
from tests.pipeline.conftest import shot, tiny_board

CAPTIONS = {"burn_in": True}
DRAWN = "Café, señor, Жук: “ß”"
NOT_DRAWN = "Ωμέγα"  # Greek: the caption font has it (validation passes it), OpenCV has not


def _spoken(*lines: str):
    shots = [shot(f"k{i}", audio="dialogue", dialogue=line) for i, line in enumerate(lines)]
    return tiny_board(*shots, captions=CAPTIONS)


def _context(tmp_path: Path) -> RunContext:
    return RunContext.create("local", Settings(data_dir=tmp_path / "data"))


def _line(text: str) -> np.ndarray:
    canvas = np.zeros((40, 400), np.uint8)
    cv2.putText(canvas, text, (4, 30), FONT, 0.8, 255, 1)
    return canvas


def test_what_opencv_draws_as_a_question_mark_is_what_is_undrawable():
    assert undrawable(DRAWN + " ? ok") == []
    assert undrawable(NOT_DRAWN + " 漢") == ["Ω", "μ", "έ", "γ", "α", "漢"]
    assert np.array_equal(_line("a\u03a9b"), _line("a?b"))  # measured on the pictures
    assert not np.array_equal(_line("Caf\u00e9"), _line("Caf?"))


def test_a_line_the_fallback_font_cannot_draw_is_refused_before_any_spend(tmp_path, monkeypatch):
    monkeypatch.setattr(burn, "has_filter", lambda _name: False)
    ctx, board = _context(tmp_path), _spoken(DRAWN, f"We leave at dawn, {NOT_DRAWN}")
    with pytest.raises(StoryboardError) as caught:
        create_job(ctx, board, output=tmp_path / "out.mp4")
    (problem,) = caught.value.problems
    assert problem.path == "scenes[0].shots[1].dialogue"
    assert problem.message.startswith("'Ω' (U+03A9), 'μ' (U+03BC), 'έ' (U+03AD)")
    assert "shows them as '?'" in problem.message
    with session_scope(ctx.db_url) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0
    route(ctx, _spoken(DRAWN), Mode.PREVIEW)
    unburned = board.captions.model_copy(update={"burn_in": False})
    route(ctx, board.model_copy(update={"captions": unburned}), Mode.PREVIEW)


def test_an_ffmpeg_with_libass_draws_the_line(tmp_path):
    assert burn.renderers()[0] == "ass"  # the wheel's FFmpeg
    route(_context(tmp_path), _spoken(f"{DRAWN} {NOT_DRAWN}"), Mode.PREVIEW)
