"""Issue 18's keyframes: a shot's ``keyframe`` (generate | none | a path) is validated with its path,
a keyframed shot gets a keyframe stage routed among ``kind: image`` models and a video stage among
models that take a first frame only, and a refusal moves the stage to the next image model."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import select

from foundation.errors import InvalidInputError
from foundation.settings import Settings, get_settings
from foundation.storyboard import StoryboardError
from pipeline import keyframe_stage, keyframes, sheet_stage
from pipeline.context import RunContext
from pipeline.planning import create_job, route
from pipeline.policy import MAX_SAME_MODEL
from shotline.emulated import use_emulator
from store.db import session_scope
from store.models import Attempt, Job, Shot
from tests.pipeline.conftest import shot, tiny_board

MARA = {"id": "mara", "description": "woman, red raincoat"}


def featuring(**extra: object):
    return tiny_board(shot("a"), shot("b", characters=["mara"], **extra), characters=[MARA])


def context(providers: str) -> RunContext:
    return RunContext.create(providers, get_settings())


def test_a_shot_with_characters_is_keyframed_by_default_and_others_are_not():
    board = featuring()
    (a, b) = (s for _, s in board.shots())
    assert (a.draws_keyframe, b.draws_keyframe) == (False, True)
    assert not featuring(keyframe="none").shots()[1][1].draws_keyframe
    assert tiny_board(shot("a", keyframe="generate")).shots()[0][1].draws_keyframe


def test_a_keyframe_path_is_the_shots_first_frame_and_a_missing_one_is_named(tmp_path):
    from pipeline.planning import check_files

    frame = str(tmp_path / "frame.png")
    spec = featuring(keyframe=frame).shots()[1][1]
    assert (spec.reference_image, spec.keyframe, spec.draws_keyframe) == (frame, frame, False)
    with pytest.raises(InvalidInputError) as caught:
        check_files(context("local"), featuring(keyframe=frame))
    ((path, message),) = [(p.path, p.message) for p in caught.value.problems]
    assert (path, message) == ("scenes[0].shots[1].keyframe", f"{frame} does not exist")


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"keyframe": "generate", "reference_image": "x.png"}, "reference_image is already"),
        ({"keyframe": "y.png", "reference_image": "x.png"}, "both set the first frame"),
    ],
)
def test_a_keyframe_that_contradicts_the_first_frame_is_refused_with_its_path(extra, why):
    with pytest.raises(StoryboardError) as caught:
        featuring(**extra)
    (problem,) = [p for p in caught.value.problems if p.path.endswith("keyframe")]
    assert problem.path == "scenes[0].shots[1].keyframe"
    assert why in problem.message


def test_a_continuing_shot_cannot_generate_a_keyframe():
    with pytest.raises(StoryboardError) as caught:
        featuring(keyframe="generate", continues=True)
    assert any(p.path == "scenes[0].shots[1].keyframe" for p in caught.value.problems)


def test_a_keyframed_shot_is_routed_to_models_that_take_a_first_frame_only():
    ctx = context("emulated")
    plan = route(ctx, featuring(), featuring().mode)
    plain, framed = plan.decisions["a"], plan.decisions["b"]
    chain = [ctx.registry.get(c.model_id) for c in framed.candidates]
    assert chain
    assert all(spec.inputs.image for spec in chain)
    rejected = framed.explanation["rejected"]
    reason = "takes no image input (the shot animates its generated keyframe)"
    assert "fal/kling-v3-pro" in rejected[reason]  # text-to-video only
    assert not any("keyframe" in why for why in plain.explanation["rejected"])


def test_the_keyframe_stage_is_routed_among_image_models_for_the_frame():
    ctx = context("emulated")
    (decision,) = keyframes.plan_keyframes(ctx, featuring(), featuring().mode).values()
    # conditioned on mara's reference sheet: the cheapest hosted image model taking a reference
    assert decision.chain[0].model_id == "gemini/gemini-2.5-flash-image"
    assert decision.rejected["fal/flux-schnell"] == ["takes 0 reference image(s), the stage has 1"]
    assert all(ctx.registry.get(c.model_id).kind == "image" for c in decision.chain)
    local = keyframes.plan_keyframes(context("local"), featuring(), featuring().mode)
    assert [c.model_id for c in local["b"].chain] == ["local/keyframe"]


def test_no_image_model_refuses_at_the_keyframe_before_any_spend():
    ctx = context("live")  # no image provider has a key here
    with pytest.raises(InvalidInputError) as caught:
        keyframes.plan_keyframes(ctx, featuring(), featuring().mode)
    assert [p.path for p in caught.value.problems] == ["scenes[0].shots[1].keyframe"]


def keyframed_shot(ctx: RunContext, tmp_path: Path) -> int:
    job_id = create_job(ctx, featuring(), output=tmp_path / "out.mp4")
    with session_scope(ctx.db_url) as session:
        return session.scalars(select(Shot.id).where(Shot.job_id == job_id, Shot.key == "b")).one()


def test_a_refusal_moves_to_the_next_image_model_and_costs_nothing(tmp_path, monkeypatch):
    from adapters._images_gemini import GeminiImageClient
    from adapters.errors import SafetyRefusalError

    def refuse(self, request):
        raise SafetyRefusalError("HTTP 400: blocked", "gemini")

    monkeypatch.setattr(GeminiImageClient, "generate", refuse)
    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    with ExitStack() as stack:
        use_emulator(ctx, stack, None)
        shot_pk = keyframed_shot(ctx, tmp_path)
        assert keyframe_stage.draw(ctx, shot_pk) > 0  # waits: mara's sheet is not drawn yet
        assert sheet_stage.draw(ctx, shot_pk) == 0.0
        assert keyframe_stage.draw(ctx, shot_pk) == 0.0
    with session_scope(ctx.db_url) as session:
        tries = session.scalars(
            select(Attempt).where(Attempt.shot_id == shot_pk).order_by(Attempt.number.desc())
        ).all()
        seen = [(a.number, a.stage, a.model_id, a.status, a.settled_usd) for a in tries]
    assert seen[0][:4] == (-1, "sheet", "fal/flux-schnell", "accepted")
    assert seen[1] == (-2, "keyframe", "gemini/gemini-2.5-flash-image", "failed", 0.0)
    assert seen[2][:4] == (-3, "keyframe", "fal/flux-kontext-pro", "accepted")
    assert (seen[2][4] or 0) > 0


def test_plan_json_carries_each_keyframe_stage_and_the_budget_counts_its_quote(tmp_path):
    import json

    import yaml

    from foundation.errors import BudgetExceededError
    from pipeline.planning import check_budget, stages_usd
    from tests.router.test_cli_plan import run

    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(featuring().model_dump(mode="json", exclude_none=True)))
    done = run("plan", str(path), "--providers", "emulated", "--json")
    planned = json.loads(done.output)
    stage, sheet = planned["keyframes"]["b"], planned["sheets"]["mara"]
    assert (stage["stage"], stage["model"]) == ("keyframe", "gemini/gemini-2.5-flash-image")
    assert (sheet["stage"], sheet["model"]) == ("sheet", "fal/flux-schnell")
    assert sheet["quote_usd"] > 0
    assert stage["quote_usd"] > 0
    assert stage["fallbacks"]
    ctx = context("emulated")
    board = featuring()
    plan = route(ctx, board, board.mode)
    videos = sum(d.candidates[0].quote_usd for d in plan.decisions.values())
    extra = stages_usd(ctx, board, board.mode)
    assert extra == pytest.approx(stage["quote_usd"] + sheet["quote_usd"])
    tight = board.model_copy(update={"budget_usd": videos + extra / 2})
    with pytest.raises(BudgetExceededError):
        check_budget(tight, plan, extra)


def test_a_shot_without_a_keyframe_stage_costs_no_keyframe_query(tmp_path, monkeypatch):
    from pipeline.runner import JobRunner

    def no_query(*_args, **_kwargs):
        raise AssertionError("a shot without a keyframe stage asked for its keyframe")

    monkeypatch.setattr(keyframes, "accepted_for", no_query)
    monkeypatch.setattr(keyframes, "keyframe_attempts", no_query)
    ctx = RunContext.create("local", Settings(data_dir=tmp_path / "data"))
    job_id = create_job(ctx, tiny_board(shot("a"), shot("b")), output=tmp_path / "out.mp4")
    runner = JobRunner(ctx)
    try:
        runner.submit(job_id)
        assert runner.wait(job_id, timeout=60) == "delivered"
    finally:
        runner.shutdown()


def test_a_rerender_with_an_edited_prompt_draws_a_new_keyframe_and_animates_it(tmp_path):
    from pipeline.engine import EmbeddedEngine
    from pipeline.rerender import rerender_shot

    ctx = RunContext.create("local", Settings(data_dir=tmp_path / "data"))
    job_id = create_job(ctx, featuring(), output=tmp_path / "out.mp4")
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"
    rerender_shot(ctx, job_id, "b", prompt="Mara at the rail, looking out")
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"
    with session_scope(ctx.db_url) as session:
        b = session.scalars(select(Shot.id).where(Shot.job_id == job_id, Shot.key == "b")).one()
        drawn = [
            (a.request or {}).get("prompt", "")
            for a in keyframes.keyframe_attempts(session, b)
            if a.status == "accepted"
        ]
        video = session.scalars(
            select(Attempt).where(Attempt.shot_id == b, Attempt.stage == "video")
        ).all()[-1]
        assert video.status == "accepted"
        assert (video.request or {})["prompt"].startswith("Mara at the rail")
    assert len(drawn) == 2  # the first render's keyframe, then the edited prompt's
    assert drawn[-1].startswith("Mara at the rail")


def test_a_keyframe_the_image_safety_classifier_refuses_moves_to_the_next_model(
    tmp_path, monkeypatch
):
    from types import SimpleNamespace

    checked: list[Path] = []

    def check(path: Path) -> SimpleNamespace:
        checked.append(path)  # the first keyframe is refused, the next one passes
        return SimpleNamespace(refused=len(checked) == 1, reason=lambda: "nsfw 0.97 >= 0.80")

    screener = SimpleNamespace(images=SimpleNamespace(check=check))
    monkeypatch.setattr(keyframe_stage, "screener_for", lambda *_a, **_k: screener)
    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    with ExitStack() as stack:
        use_emulator(ctx, stack, None)
        shot_pk = keyframed_shot(ctx, tmp_path)
        assert sheet_stage.draw(ctx, shot_pk) == 0.0  # the sheet's own screener is not patched
        assert keyframe_stage.draw(ctx, shot_pk) == 0.0
    with session_scope(ctx.db_url) as session:
        tries = session.scalars(
            select(Attempt)
            .where(Attempt.shot_id == shot_pk, Attempt.stage == "keyframe")
            .order_by(Attempt.number.desc())
        ).all()
        seen = [(a.model_id, a.status, a.error) for a in tries]
    assert seen[0][:2] == ("gemini/gemini-2.5-flash-image", "rejected")
    assert "image-safety" in (seen[0][2] or "")
    assert seen[1][:2] == ("fal/flux-kontext-pro", "accepted")
    assert len(checked) == 2


def test_a_keyframe_no_model_draws_fails_the_shot_before_its_video_is_paid_for(
    tmp_path, monkeypatch
):
    from adapters._images_local import LocalImageClient
    from adapters.errors import ProviderFailureError
    from pipeline.engine import EmbeddedEngine

    def fail(self, request):
        raise ProviderFailureError("the drawing failed", "local")

    monkeypatch.setattr(LocalImageClient, "generate", fail)
    ctx = RunContext.create("local", Settings(data_dir=tmp_path / "data", backoff_base_s=0.01))
    job_id = create_job(ctx, featuring(), output=tmp_path / "out.mp4")
    EmbeddedEngine(ctx).run(job_id)
    with session_scope(ctx.db_url) as session:
        b = session.scalars(select(Shot).where(Shot.job_id == job_id, Shot.key == "b")).one()
        stages = session.scalars(select(Attempt.stage).where(Attempt.shot_id == b.id)).all()
        # mara's sheet is the first image drawn: the shot fails there, before any video, after
        # the only image model's MAX_SAME_MODEL tries (a provider failure may not come again)
        assert (b.status, stages) == ("failed", ["sheet"] * MAX_SAME_MODEL)
        assert (b.error or "").startswith("sheet: local/keyframe: local: the drawing failed")


def test_a_stage_quote_past_the_budget_fails_its_try_over_budget(tmp_path):
    """The kind ``render`` exits 3 on: a sheet's try refused by the budget said only its error,
    so a job that failed there exited 4 as a failed render."""
    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    with ExitStack() as stack:
        use_emulator(ctx, stack, None)
        shot_pk = keyframed_shot(ctx, tmp_path)
        with session_scope(ctx.db_url) as session:
            job = session.get_one(Job, session.get_one(Shot, shot_pk).job_id)
            job.budget_usd, job.spent_usd = 1.0, 1.0
        sheet_stage.draw(ctx, shot_pk)
    with session_scope(ctx.db_url) as session:
        tries = session.scalars(select(Attempt).where(Attempt.shot_id == shot_pk)).all()
        seen = [(a.stage, a.status, a.error_kind, a.error) for a in tries]
    assert seen[0] == ("sheet", "failed", "over_budget", "the sheet quote does not fit the budget")
