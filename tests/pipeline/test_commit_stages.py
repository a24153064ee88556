"""A commit's quote counts every stage its final runs and pays for, not only the videos: the tts
lines, the approved shots' character sheets and keyframes, and the music bed, each at the quote
``shotline plan`` prints (``StageDecision.quote_usd``), or at $0 when the final reuses a stored
output (the preview's approved keyframe, a line or bed already made); a commit whose whole quote
passes the budget is refused before anything is written or spent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import func, select

from foundation import money
from foundation.errors import BudgetExceededError
from foundation.storyboard import Mode, Storyboard
from pipeline import (
    commit,
    keyframe_stage,
    keyframes,
    music,
    music_stage,
    planning,
    sheet_stage,
    sheets,
    voice_stage,
    voices,
)
from pipeline.context import RunContext
from store.db import session_scope
from store.models import Attempt, Job, Shot
from tests.contexts import emulated_context
from tests.pipeline.conftest import shot, tiny_board

MARA = {"id": "mara", "description": "woman, red raincoat", "voice": "calm, low"}


def board() -> Storyboard:
    """A character without references (a sheet), her keyframed shot with a line, a plain shot,
    and a generated bed."""
    made: Storyboard = tiny_board(
        shot("a", characters=["mara"], dialogue="Go now.", speaker="mara", duration=2),
        shot("b"),
        characters=[MARA],
        music={"prompt": "slow synth pulse"},
        mode="preview",
    )
    return made


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[RunContext]:
    with ExitStack() as stack:
        yield emulated_context(tmp_path, stack)


def _shot_pk(ctx: RunContext, job_id: str, key: str) -> int:
    with session_scope(ctx.db_url) as session:
        return session.scalars(select(Shot.id).where(Shot.job_id == job_id, Shot.key == key)).one()


def _run_stages(ctx: RunContext, job_id: str) -> None:
    """The preview's stages before its videos, as its steps run them (no clip is needed)."""
    a = _shot_pk(ctx, job_id, "a")
    assert sheet_stage.draw(ctx, a) == 0.0
    assert keyframe_stage.draw(ctx, a) == 0.0
    assert voice_stage.speak(ctx, a) == 0.0
    assert music_stage.compose(ctx, job_id) == 0.0
    with session_scope(ctx.db_url) as session:
        session.get_one(Job, job_id).status = "delivered"


def _final_board(ctx: RunContext, preview_id: str) -> Storyboard:
    found = commit._load_preview(ctx, preview_id)
    return commit._final_board(ctx, found, ["a", "b"])[0]


def test_the_quote_counts_every_stage_at_the_plans_quote(ctx: RunContext):
    preview_id = commit.start_preview(ctx, board())
    quote = commit.quote(ctx, preview_id)
    stages = {(line.stage, line.owner): line for line in quote.stages}
    assert set(stages) == {("tts", "a"), ("sheet", "mara"), ("keyframe", "a"), ("music", "(job)")}
    assert not any(line.reused for line in quote.stages)
    final = _final_board(ctx, preview_id)
    planned = {
        ("tts", "a"): voices.plan_voices(ctx, final, Mode.FINAL)["a"],
        ("sheet", "mara"): sheets.plan_sheets(ctx, final, Mode.FINAL)["mara"],
        ("keyframe", "a"): keyframes.plan_keyframes(ctx, final, Mode.FINAL)["a"],
        ("music", "(job)"): music.plan_music(ctx, final, Mode.FINAL),
    }
    for where, decision in planned.items():  # the one definition of a stage's quote
        assert decision is not None
        assert stages[where].quote_usd == decision.quote_usd > 0
        assert stages[where].model_id == decision.chain[0].model_id
    assert quote.stages_usd == pytest.approx(planning.stages_usd(ctx, final, Mode.FINAL))
    videos = money.total(line.expected_usd for line in quote.lines)
    assert money.usd(quote.expected_usd) == videos + money.total(s.quote_usd for s in quote.stages)
    assert quote.to_dict()["stages_usd"] == pytest.approx(quote.stages_usd)


def test_stages_the_final_reuses_quote_nothing(ctx: RunContext):
    preview_id = commit.start_preview(ctx, board())
    _run_stages(ctx, preview_id)
    quote = commit.quote(ctx, preview_id)
    with session_scope(ctx.db_url) as session:
        drawn = session.scalars(
            select(Attempt.model_id).where(
                Attempt.stage == "keyframe", Attempt.status == "accepted"
            )
        ).one()
    lines = {(line.stage, line.owner): line for line in quote.stages}
    assert all(line.reused and line.quote_usd == 0.0 for line in quote.stages)
    assert all(line.saved_usd > 0 for line in quote.stages)
    assert lines["keyframe", "a"].model_id == drawn  # the preview's approved keyframe
    videos = money.stored(money.total(line.expected_usd for line in quote.lines))
    assert quote.expected_usd == videos
    only_b = commit.quote(ctx, preview_id, ["b"])  # a is kept: its line is voiced, nothing drawn
    assert [(line.stage, line.owner) for line in only_b.stages] == [
        ("tts", "a"),
        ("music", "(job)"),
    ]


def test_a_commit_over_budget_with_its_stages_is_refused_naming_them(ctx: RunContext):
    preview_id = commit.start_preview(ctx, board())
    quote = commit.quote(ctx, preview_id)
    videos = money.stored(money.total(line.expected_usd for line in quote.lines))
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, preview_id)
        job.status = "delivered"
        job.budget_usd = job.spent_usd + videos + quote.stages_usd / 2  # videos fit, stages not
    with pytest.raises(BudgetExceededError) as info:
        commit.commit(ctx, preview_id)
    message = info.value.message
    assert f"of which stages ${quote.stages_usd:.2f}: tts $" in message
    assert all(f"{stage} $" in message for stage in ("sheet", "keyframe", "music"))
    with session_scope(ctx.db_url) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1  # no final job


def test_the_cli_quote_table_shows_each_stage_line():
    from rich.console import Console

    from pipeline.commit_types import Quote, StageLine
    from shotline.commands.commit import quote_table

    stages = (
        StageLine("keyframe", "a", "gemini/gemini-2.5-flash-image", 0.0388),
        StageLine("music", "(job)", "elevenlabs/music-v1", 0.0, True, 0.015),
    )
    quote = Quote("job1", (), 1.0, 0.0, 0.0, stages)
    console = Console(width=160, record=True)
    console.print(quote_table(quote, 160))
    shown = console.export_text()
    assert "keyframe: gemini/gemini-2.5-flash-image" in shown
    assert "music: elevenlabs/music-v1 (reused)" in shown
    assert "expected $0.04" in shown  # the stages count in the total
