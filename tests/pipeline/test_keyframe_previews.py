"""Issue 18's keyframe previews, planned: ``preview.kind`` (``free: true`` kept), every shot given a
keyframe, every video stage routed to the local still (and the still never routed otherwise), the
refusals with their paths before any spend, and the plan's lower quote."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import yaml

from foundation.previews import PreviewKind
from foundation.settings import get_settings
from foundation.storyboard import Mode, StoryboardError
from pipeline import previews
from pipeline.context import RunContext
from pipeline.planning import route
from tests.pipeline.conftest import shot, tiny_board
from tests.router.test_cli_plan import run

MARA = {"id": "mara", "description": "woman, red raincoat", "voice": "calm, low"}


def board(*shots: dict[str, object], kind: str = "keyframes", **top: object):
    shots = shots or (
        shot("a", characters=["mara"], dialogue="Go now.", speaker="mara"),
        shot("b"),
    )
    return tiny_board(*shots, characters=[MARA], preview={"kind": kind}, **top)


@pytest.mark.parametrize(
    ("preview", "kind", "free"),
    [
        ({}, PreviewKind.VIDEO, False),
        ({"free": True}, PreviewKind.FREE, True),
        ({"kind": "free"}, PreviewKind.FREE, True),
        ({"kind": "keyframes"}, PreviewKind.KEYFRAMES, False),
    ],
)
def test_preview_kind_keeps_free_true(preview, kind, free):
    spec = tiny_board(shot("a"), preview=preview).preview
    assert (spec.kind, spec.free) == (kind, free)
    again = tiny_board(shot("a"), preview=spec.model_dump(mode="json")).preview
    assert again == spec


@pytest.mark.parametrize(
    "preview", [{"free": True, "kind": "keyframes"}, {"kind": "free", "free": False}]
)
def test_a_contradicting_free_is_refused_at_preview(preview):
    with pytest.raises(StoryboardError) as caught:
        tiny_board(shot("a"), preview=preview)
    assert [p.path for p in caught.value.problems] == ["preview"]


def test_every_shot_without_a_first_frame_of_its_own_draws_a_keyframe(tmp_path):
    frame = tmp_path / "f.png"
    drawn = previews.keyframed_board(
        board(shot("a"), shot("b", continues=True), shot("c", reference_image=str(frame))),
        Mode.PREVIEW,
    )
    assert [s.keyframe for _, s in drawn.shots()] == ["generate", None, None]
    assert [s.draws_keyframe for _, s in drawn.shots()] == [True, False, False]
    other = board(shot("a"), kind="video")
    assert previews.keyframed_board(other, Mode.PREVIEW) is other


def test_a_keyframes_preview_is_refused_at_final_and_for_a_shot_without_keyframe():
    with pytest.raises(StoryboardError) as caught:
        previews.keyframed_board(board(), Mode.FINAL)
    ((path, why),) = [(p.path, p.message) for p in caught.value.problems]
    assert path == "preview.kind"
    assert "final" in why
    with pytest.raises(StoryboardError) as caught:
        previews.keyframed_board(board(shot("a"), shot("b", keyframe="none")), Mode.PREVIEW)
    assert [p.path for p in caught.value.problems] == ["scenes[0].shots[1].keyframe"]


def test_every_video_stage_is_the_free_still_and_a_pin_waits_for_the_final():
    ctx = RunContext.create("emulated", get_settings())
    pinned = board(shot("a", characters=["mara"], model="runway/gen4_turbo"), shot("b"))
    plan = route(ctx, pinned, Mode.PREVIEW)
    assert {k: d.primary.model_id for k, d in plan.decisions.items() if d.primary} == {
        "a": "local/still",
        "b": "local/still",
    }
    assert plan.forecast.cost_high_usd == 0.0
    assert [s.model for _, s in plan.board.shots()] == ["runway/gen4_turbo", None]
    assert "pin kept for the final" in plan.decisions["a"].rejected["runway/gen4_turbo"][0]
    assert all(s.draws_keyframe for _, s in plan.board.shots())


@pytest.mark.parametrize("providers", ["local", "emulated"])
def test_the_still_is_never_routed_outside_a_keyframes_preview(providers):
    ctx = RunContext.create(providers, get_settings())
    for kind in ("video", "free"):
        plan = route(ctx, board(shot("a", characters=["mara"]), kind=kind), Mode.PREVIEW)
        decision = plan.decisions["a"]
        assert all(c.model_id != "local/still" for c in decision.candidates)
        assert "used only by a preview of stills" in decision.rejected["local/still"][0]


def test_a_commit_renders_the_keyframes_preview_at_final_with_its_keyframes():
    final = previews.final_of(previews.keyframed_board(board(), Mode.PREVIEW))
    assert (final.mode, final.preview.kind) == (Mode.FINAL, PreviewKind.VIDEO)
    assert all(s.draws_keyframe for _, s in final.shots())


def test_plan_quotes_a_keyframes_preview_at_its_keyframes_and_voices(tmp_path):
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(board().model_dump(mode="json", exclude_none=True)))
    data = json.loads(run("plan", str(path), "--providers", "emulated", "--json").output)
    assert set(data["keyframes"]) == {"a", "b"}  # b has no character and draws one too
    assert all(stage["quote_usd"] > 0 for stage in data["keyframes"].values())
    assert data["stages"]["a"]["stage"] == "tts"
    shown = run("plan", str(path), "--providers", "emulated").output
    # mara's sheet ($0.0030, flux-schnell), a's keyframe drawn from it (a model that reads a
    # reference: gemini, $0.0388), b's keyframe (flux-schnell, $0.0030) and a's voice
    assert "total: $0.0449 quoted (videos $0.0000" in shown
    video = path.with_name("video.yaml")
    video.write_text(path.read_text().replace("kind: keyframes", "kind: video"))
    assert "videos $0.0000" not in run("plan", str(video), "--providers", "emulated").output


def test_a_local_placeholder_keyframe_is_reused_only_by_a_local_final(tmp_path):
    """The approved keyframe a commit's final reuses is found through the commit; one drawn by
    ``local/keyframe`` (a placeholder) is reused by a local final only."""
    from sqlalchemy import select

    from foundation.settings import Settings
    from pipeline import commit, keyframe_stage, keyframes, stage_tries
    from store.db import session_scope
    from store.models import Job, Shot

    ctx = RunContext.create("local", Settings(data_dir=tmp_path / "data"))
    preview = commit.start_preview(ctx, board(shot("a")), output=tmp_path / "cut.mp4")
    with session_scope(ctx.db_url) as session:  # only its keyframe is drawn: no clip is needed
        drawn = session.scalars(select(Shot.id).where(Shot.job_id == preview)).one()
    assert keyframe_stage.draw(ctx, drawn) == 0.0
    with session_scope(ctx.db_url) as session:
        session.get_one(Job, preview).status = "delivered"
    final = commit.commit(ctx, preview).final_job_id
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, final)
        row = session.scalars(select(Shot).where(Shot.job_id == final)).one()
        keyframe = keyframes.keyframe_of(job.storyboard, "a")
        assert keyframe is not None
        owner = stage_tries.Owner.of(job, row)
        found = keyframe_stage.approved_try(ctx, session, owner, keyframe)
        hosted = keyframe_stage.approved_try(
            ctx, session, replace(owner, providers="emulated"), keyframe
        )
        elsewhere = keyframes.approved_keyframe(session, preview, "a", keyframe.prompt)
    assert found is not None
    assert (found[0].model_id, found[0].estimate_usd) == ("local/keyframe", 0.0)
    assert hosted is None
    assert elsewhere is None  # the preview itself commits nothing


def test_the_first_segment_of_a_shot_the_final_splits_animates_its_approved_keyframe(tmp_path):
    """A 20 s shot's keyframe drawn and approved in its preview; no final model renders 20 s in
    one clip, so the commit renders its segments: the first is drawn from the approved keyframe
    (found through the commit's quote, which names the shot's segments), reused for nothing."""
    from contextlib import ExitStack

    from sqlalchemy import select

    from foundation.settings import Settings
    from pipeline import commit, keyframe_stage, keyframes, stage_tries
    from shotline.emulated import use_emulator
    from store.db import session_scope
    from store.models import Job, Shot

    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    with ExitStack() as stack:
        use_emulator(ctx, stack, None)
        preview = commit.start_preview(ctx, board(shot("a", duration=20)))
        with session_scope(ctx.db_url) as session:  # only its keyframe is drawn: no clip is needed
            drawn = session.scalars(select(Shot.id).where(Shot.job_id == preview)).one()
            session.get_one(Job, preview).status = "delivered"
        assert keyframe_stage.draw(ctx, drawn) == 0.0  # drawn, nothing to wait for
        quote = commit.quote(ctx, preview)
        (line,) = quote.lines
        first = line.segments[0].shot_id
        (stage,) = [s for s in quote.stages if s.stage == "keyframe"]
        assert (stage.owner, stage.reused, stage.quote_usd) == (first, True, 0.0)
        final = commit.commit(ctx, preview).final_job_id
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, final)
        row = session.scalars(select(Shot).where(Shot.job_id == final, Shot.key == first)).one()
        keyframe = keyframes.keyframe_of(job.storyboard, first)
        assert keyframe is not None
        found = keyframe_stage.approved_try(ctx, session, stage_tries.Owner.of(job, row), keyframe)
        approved = keyframes.accepted_for(session, drawn, keyframe.prompt)
    assert found is not None
    assert approved is not None
    assert approved.provider != "local", "a hosted image model drew it"
    assert (found[0].model_id, found[0].estimate_usd) == (approved.model_id, 0.0)
