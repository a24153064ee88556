"""From a validated storyboard to rows: route every shot, check the budget, persist the job."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path

import router
import stitching
from adapters.image_port import image_problem
from foundation.captions import listed
from foundation.documents import set_path
from foundation.errors import BudgetExceededError, InvalidInputError, Problem
from foundation.previews import keyframes_preview
from foundation.storyboard import Mode, Storyboard, StoryboardError
from media.caption import undrawable
from pipeline import (
    assets,
    history,
    keyframes,
    music,
    previews,
    sheets,
    variant_plan,
    voice_check,
    voices,
)
from pipeline.context import RunContext
from pipeline.transitions import job_created, shot_created
from quality import screening
from store.db import session_scope
from store.models import Job, Shot
from store.records import RouteCandidate, ShotRoute


def candidate_record(candidate: router.Candidate) -> RouteCandidate:
    """The part of a router candidate the pipeline needs to run and resume an attempt."""
    return RouteCandidate(
        model_id=candidate.model_id,
        provider=candidate.provider,
        provider_model=candidate.provider_model,
        quote_usd=float(candidate.quote_usd),
        duration_s=float(candidate.duration_s),
        width=int(candidate.width),
        height=int(candidate.height),
        fps=float(candidate.fps),
        audio=bool(candidate.audio),
        adaptations=tuple(candidate.adaptations),
        params=candidate.params,
    )


def route_record(
    decision: router.ShotDecision, variants: tuple[router.VariantChoice, ...] = ()
) -> ShotRoute:
    """The stored route of a routed shot (``Shot.route``): the one builder for planning, re-render
    and commit; ``variants``: the plan's variant choices (its native renders are kept)."""
    return ShotRoute(
        candidates=tuple(candidate_record(c) for c in decision.candidates),
        seed=decision.need.seed,
        shot_type=str(decision.need.shot_type),
        explanation=decision.to_dict() | _variant_choices(variants, decision.shot_id),
        native={  # the chains of the shot's native variant renders, by variant label
            c.label: tuple(candidate_record(x) for x in c.candidates)
            for c in variants
            if c.shot_id == decision.shot_id and c.render == "native"
        },
    )


def _variant_choices(
    variants: tuple[router.VariantChoice, ...], shot_id: str
) -> dict[str, list[dict[str, object]]]:
    """The shot's variant choices (reframe or native, extra quote, reason) for its explanation."""
    mine = [c.to_dict() for c in variants if c.shot_id == shot_id]
    return {"variants": mine} if mine else {}


def preview_providers(board: Storyboard, mode: Mode, providers: str) -> str:
    """The providers a job renders on: ``local`` for a free preview, else ``providers``."""
    return "local" if mode is Mode.PREVIEW and board.preview.free else providers


def route(
    ctx: RunContext,
    board: Storyboard,
    mode: Mode,
    tenant: str = "local",
    kept_voices: Collection[str] = (),
) -> router.Plan:
    """The one call of the router for planning, quotes, re-renders and commits: the providers
    available to ``ctx``, the learned statistics and the breakers every process shares.
    ``tenant`` scopes the answers of the providers' free lookups (``voice_check``) and the
    statistics (``history.stats_book``).

    The storyboard is screened first (``quality.screening``): a refused text or reference image
    raises ``ScreeningRefusedError`` (exit 2, HTTP 422) before anything is reserved or sent. A
    keyframes preview (``previews.keyframed_board``) draws every shot's keyframe and routes every
    video stage to the local still; the plan's board is the one with those keyframes. A free
    preview is routed on the local renderer it renders on (``stage_context``), whatever
    providers ``ctx`` has."""
    ctx = stage_context(ctx, board, mode)
    board = previews.keyframed_board(board, mode)
    stills = keyframes_preview(board.preview, mode)
    hosted = ctx.providers not in ("local", "emulated")
    check_files(ctx, board)
    screening.screen_storyboard(board, ctx.settings, hosted=hosted)
    check_burn_in(board)
    music.plan_music(ctx, board, mode)  # a bed no music model can compose is refused here
    spoken = voices.plan_voices(ctx, board, mode)  # a line no tts model can voice is refused here
    sheets.plan_sheets(ctx, board, mode)  # and a character sheet no image model can draw
    keyframes.plan_keyframes(ctx, board, mode)  # and a keyframe no image model can draw
    # last, as it asks the provider (free): a voice id the ElevenLabs account does not have
    voice_check.refuse_unknown_voices(ctx, board, spoken, tenant, kept=kept_voices)
    availability = router.provider_availability(ctx.providers, ctx.settings)
    policy = router.RoutingPolicy.for_mode(
        mode, allow_unverified=ctx.settings.allow_unverified, stills=stills
    )
    plan = router.plan(
        board,
        ctx.registry,
        mode=mode,  # the still is drawn on this machine whatever providers the stages use
        providers=availability.enabled | ({"local"} if stills else set()),
        unavailable=availability.unavailable,
        stats=history.stats_book(ctx, tenant),
        health=ctx.health,
        policy=policy,
    )
    spent = variant_plan.cheapest_usd(plan) + stages_usd(ctx, board, mode)
    return variant_plan.choose(ctx, plan, availability, policy, spent)  # native or reframed


def route_storyboard(
    ctx: RunContext, board: Storyboard, mode: Mode, tenant: str = "local"
) -> router.Plan:
    """Route every shot; raise (exit code 2) when some shot has no model, before any spend."""
    plan = route(ctx, board, mode, tenant)
    router.raise_if_unroutable(plan)
    return plan


def check_files(ctx: RunContext, board: Storyboard) -> None:
    """Refuse, before any spend and in one round, every file the storyboard names that cannot be
    used: a reference image (a shot's, a keyframe, a character's) that cannot be read, and a
    music bed the stitcher cannot lay under the programme (a missing image was named first and the
    missing bed only on the next run). URLs are the API's to fetch and check; a file already in a
    remote asset store (a stored job's board: a commit, a re-render) was checked when it was put
    there, and must still be there."""
    problems = [*_image_problems(ctx, board), *_music_problems(ctx, board)]
    if not problems:
        return
    kinds = {"music.file" if p.path == "music.file" else "image" for p in problems}
    what = {
        frozenset({"image"}): "reference images cannot be used",
        frozenset({"music.file"}): "the music bed cannot be used",
    }.get(frozenset(kinds), "files the storyboard names cannot be used")
    raise InvalidInputError(f"{what}; nothing was reserved or sent to a provider", problems)


def _music_problems(ctx: RunContext, board: Storyboard) -> list[Problem]:
    if board.music is None or board.music.file is None:
        return []
    heard_s = board.shots_s  # the most the programme can hear of the bed
    problem = _input_problem(
        ctx, board.music.file, lambda path: stitching.music_problem(path, heard_s)
    )
    return [] if problem is None else [Problem("music.file", problem)]


def _image_problems(ctx: RunContext, board: Storyboard) -> list[Problem]:
    return [
        Problem(path, problem)
        for path, image in screening.board_images(board)
        if not image.startswith(("http://", "https://"))
        and (problem := _input_problem(ctx, image, image_problem)) is not None
    ]


def check_burn_in(board: Storyboard) -> None:
    """Refuse, before any spend, a burned-in line the FFmpeg in use cannot draw: with neither
    libass nor libfreetype (an ``SHOTLINE_FFMPEG`` build), captions are drawn with OpenCV's
    built-in font (``stitching.burn``), which draws some characters (Greek, CJK) as ``?``."""
    if not board.captions.burn_in or stitching.caption_renderers() != ["opencv"]:
        return
    problems = [
        Problem(f"{path}.dialogue", _opencv_problem(missing))
        for path, shot in board.shot_paths()
        if shot.dialogue and (missing := undrawable(shot.dialogue))
    ]
    if problems:
        raise StoryboardError(
            "burned-in captions cannot be drawn; nothing was reserved or sent to a provider",
            problems,
        )


def _opencv_problem(missing: list[str]) -> str:
    return (
        f"{listed(missing)} cannot be burned in by this FFmpeg: it has neither libass nor libfreetype, "
        "and OpenCV's font, drawn instead, shows them as '?'; use an FFmpeg with either (unset "
        "SHOTLINE_FFMPEG for the wheel's), or keep the captions to OUT.srt and OUT.vtt "
        "(captions.burn_in: false)"
    )


def _input_problem(ctx: RunContext, ref: str, local: Callable[[Path], str | None]) -> str | None:
    """Why a file the storyboard names cannot be used: one in a remote asset store was checked
    when it was put there and must still be there; a local one is checked by ``local``."""
    if assets.is_remote(ref):
        return None if ctx.assets.exists(ref) else f"{ref} is not in the asset store"
    return local(Path(ref))


def with_images_stored(ctx: RunContext, board: Storyboard, scope: str) -> Storyboard:
    """With a remote asset store, the storyboard with every image it names (shots' and
    characters' reference images) put into the store, so a worker on another machine reads them;
    with the local store, the board as written."""
    if not ctx.assets.remote:
        return board
    data = board.model_dump(mode="json")
    for path, image in screening.board_images(board):
        if not assets.is_remote(image) and Path(image).is_file():
            stored = ctx.assets.put(Path(image).resolve(), scope, alone=True)
            set_path(data, path, stored)
            if path.endswith(".keyframe"):  # a keyframe path is the shot's reference_image too
                set_path(data, path.removesuffix("keyframe") + "reference_image", stored)
    return Storyboard.model_validate(data)


def with_music_stored(ctx: RunContext, board: Storyboard, scope: str) -> Storyboard:
    """The storyboard with its music file as the asset store's reference (an absolute path with
    the local store): the job is stitched later, maybe on another machine."""
    if board.music is None or board.music.file is None or assets.is_remote(board.music.file):
        return board
    ref = ctx.assets.put(Path(board.music.file).resolve(), scope, alone=True)
    return board.model_copy(update={"music": board.music.model_copy(update={"file": ref})})


def check_budget(board: Storyboard, plan: router.Plan, stages_usd: float = 0.0) -> None:
    """Refuse a board whose cheapest routing (the shots' video stages, plus ``stages_usd``: the
    quotes of their other stages, e.g. the tts stages, and the native variant renders) is over
    its budget."""
    if board.budget_usd is None:
        return
    cheapest = variant_plan.first_time_usd(plan, stages_usd)
    if cheapest > board.budget_usd + 1e-9:
        raise BudgetExceededError(
            f"the cheapest routing costs ${cheapest:.2f}, over the budget of ${board.budget_usd:.2f}"
        )


@dataclass(frozen=True)
class StageDecisions:
    """The routed stages of a board before its videos: each shot's tts and keyframe stage, each
    character's sheet, the job's music bed."""

    voices: dict[str, router.StageDecision]
    keyframes: dict[str, router.StageDecision]
    sheets: dict[str, router.StageDecision]
    music: router.StageDecision | None

    def quote_usd(self) -> float:
        """The stages' quotes, each its first model's."""
        every = [*self.voices.values(), *self.sheets.values(), *self.keyframes.values()]
        return sum(d.quote_usd for d in [*every, *filter(None, [self.music])])


def plan_stages(ctx: RunContext, board: Storyboard, mode: Mode) -> StageDecisions:
    """Route the stages before the videos of ``board`` (a keyframes preview's board drawn by
    ``previews.keyframed_board``) on ``ctx``'s providers."""
    return StageDecisions(
        voices.plan_voices(ctx, board, mode),
        keyframes.plan_keyframes(ctx, board, mode),
        sheets.plan_sheets(ctx, board, mode),
        music.plan_music(ctx, board, mode),
    )


def stages_usd(ctx: RunContext, board: Storyboard, mode: Mode) -> float:
    """The quotes of the stages before the videos, each its first model's (``plan_stages``)."""
    return plan_stages(ctx, board, mode).quote_usd()


def stage_context(ctx: RunContext, board: Storyboard, mode: Mode) -> RunContext:
    """``ctx`` on the providers the job renders on (``preview_providers``)."""
    return replace(ctx, providers=preview_providers(board, mode, ctx.providers))


def budget_refusal(
    ctx: RunContext,
    board: Storyboard,
    plan: router.Plan,
    mode: Mode,
    stages: StageDecisions | None = None,
) -> BudgetExceededError | None:
    """What job creation refuses over ``board``'s budget (``check_budget``, with the quotes of
    the stages on the providers the job would render on: ``stages`` when already planned, by
    ``plan_stages`` on ``stage_context`` and the keyframed board); None when the cheapest routing
    fits. ``plan`` and ``shotline plan`` report it, ``create_job`` raises it."""
    if stages is None:
        keyframed = previews.keyframed_board(board, mode)
        stages = plan_stages(stage_context(ctx, board, mode), keyframed, mode)
    try:
        check_budget(board, plan, stages.quote_usd())
    except BudgetExceededError as exc:
        return exc
    return None


def create_job(
    ctx: RunContext,
    board: Storyboard,
    *,
    mode: Mode | None = None,
    output: Path | None = None,
    tenant: str = "local",
    fingerprint: str = "",
) -> str:
    """Plan and persist a job; nothing is spent yet. Returns the job id."""
    mode = mode or board.mode
    ctx = stage_context(ctx, board, mode)
    plan = route_storyboard(ctx, board, mode, tenant)
    if (refusal := budget_refusal(ctx, board, plan, mode)) is not None:
        raise refusal
    job_id = uuid.uuid4().hex
    scope = f"{tenant}/{job_id}"
    board = with_images_stored(ctx, with_music_stored(ctx, plan.board, scope), scope)
    job = Job(
        id=job_id,
        tenant=tenant,
        title=board.title,
        mode=str(mode),
        providers=ctx.providers,
        storyboard=board.model_dump(mode="json"),
        output_path=str(output.resolve()) if output else None,
        budget_usd=board.budget_usd,
        fingerprint=fingerprint,
    )
    shots = [
        planned_shot(scene.id, shot.id, position, plan.decisions[shot.id], plan.variants)
        for position, (scene, shot) in enumerate(board.shots())
    ]
    with session_scope(ctx.db_url) as session:
        session.add(job)
        session.flush()
        for row in shots:
            row.job_id = job_id
            shot_created(session, row, model=row.model_id)
        job_created(session, job, mode=str(mode), shots=len(plan.decisions))
    return job_id


def planned_shot(
    scene_id: str,
    key: str,
    position: int,
    decision: router.ShotDecision,
    variants: tuple[router.VariantChoice, ...] = (),
) -> Shot:
    """A new shot row routed by ``decision`` (its job id is set when the job is added)."""
    route = route_record(decision, variants)
    primary = route.primary
    return Shot(
        key=key,
        scene_id=scene_id,
        position=position,
        route=route.to_json(),
        model_id=None if primary is None else primary.model_id,
    )
