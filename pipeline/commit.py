"""Preview-then-commit: quote the final render of a delivered preview, then commit approved shots.

A commit creates a **final job** next to the preview job. Approved shots are routed in ``final``
mode and keep the preview's prompt, seed and reference image. A shot with a keyframe stage keeps
it: the final's stage reuses the preview's approved keyframe from the cache, for nothing
(``keyframe_stage``), and the final model animates exactly that image. Where the final model takes
an image and the shot has no first frame of its own, the preview clip's first frame becomes its
reference image. The preview settings (``preview.kind``) are not the final's.
An approved shot no final model renders in one clip is rendered in the segments a final render
splits it into (``commit_final.committed_board``), quoted as their sum.
Unapproved shots keep their preview clip (the final job starts them as accepted). The preview job
is left as it was, so both versions stay, linked by a ``JobCommit`` row that also records the final
quote of every shot (for the cost avoided) and, once the final is delivered, the preview/final
agreement per committed shot.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.orm import Session

import router
from foundation.errors import BudgetExceededError, ConflictError, NotFoundError, Problem
from foundation.states import JobStatus, ShotStatus
from foundation.storyboard import Mode, Storyboard, StoryboardError, parse_storyboard
from pipeline import commit_budget, commit_stages, commit_versions, events, kept_voice, previews
from pipeline.commit_final import (
    committed_board,
    final_prices,
    final_route,
    parts_of,
    quote_lines,
)
from pipeline.commit_types import CommitResult, Quote
from pipeline.context import RunContext
from pipeline.planning import create_job, planned_shot
from pipeline.transitions import job_created, shot_created
from store import jobs
from store.db import session_scope
from store.models import Job, JobCommit, Shot
from store.records import ShotRoute


@dataclass(frozen=True)
class _Preview:
    job_id: str
    tenant: str
    mode: str
    status: str
    board: Storyboard
    budget_usd: float | None
    spent_usd: float
    reserved_usd: float
    output_path: str | None
    shots: dict[str, Shot]


def start_preview(
    ctx: RunContext,
    board: Storyboard,
    *,
    output: Path | None = None,
    tenant: str = "local",
    fingerprint: str = "",
) -> str:
    """Create a preview job: draft routing (cheapest fit models), all on the local animatic when
    the storyboard asks for a free preview (``preview: {free: true}``)."""
    return create_job(
        ctx, board, mode=Mode.PREVIEW, output=output, tenant=tenant, fingerprint=fingerprint
    )


def _load_preview(ctx: RunContext, job_id: str) -> _Preview:
    with session_scope(ctx.db_url) as session:
        job = jobs.find_job(session, job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id}")
        shots = jobs.shots_of(session, job_id)
        spent, held = commit_budget.budget_use(session, job)
        return _Preview(
            job_id=job.id,
            tenant=job.tenant,
            mode=job.mode,
            status=job.status,
            board=Storyboard.model_validate(job.storyboard),
            budget_usd=job.budget_usd,
            spent_usd=spent,
            reserved_usd=held,
            output_path=job.output_path,
            shots={shot.key: shot for shot in shots},
        )


def _approved(preview: _Preview, shots: list[str] | None) -> list[str]:
    """The approved shot ids in storyboard order (all when ``shots`` is None)."""
    order = [shot.id for _, shot in preview.board.shots()]
    if shots is None:
        return order
    problems = [
        Problem(f"shots[{index}]", f"job {preview.job_id} has no shot {key!r}")
        for index, key in enumerate(shots)
        if key not in order
    ]
    if not shots:
        problems.append(Problem("shots", "approve at least one shot (omit it for all)"))
    if problems:
        raise StoryboardError("the shots to commit are invalid", problems)
    return [key for key in order if key in set(shots)]


def _takes_image(ctx: RunContext, plan: router.Plan, key: str) -> bool:
    decision = plan.decisions.get(key)  # None: the final splits the shot into segments
    primary = None if decision is None else decision.primary
    return primary is not None and ctx.registry.get(primary.model_id).inputs.image


def _with_frames(
    ctx: RunContext, preview: _Preview, approved: list[str], frame: set[str]
) -> Storyboard:
    """The preview's storyboard at final, every approved shot's seed pinned to the preview's, and
    the preview clip's first frame as reference image of the shots in ``frame``."""
    data = previews.final_of(preview.board).model_dump(mode="json")
    for scene in data["scenes"]:
        for spec in scene["shots"]:
            shot = preview.shots.get(spec["id"])
            if spec["id"] not in approved or shot is None:
                continue
            seed = ShotRoute.from_json(shot.route).seed
            spec["seed"] = spec.get("seed") if seed is None else seed
            if spec["id"] in frame and shot.asset_path:
                out = ctx.asset_dir(preview.job_id) / commit_versions.FRAMES / f"{spec['id']}.png"
                spec["reference_image"] = str(
                    commit_versions.first_frame(ctx.assets.local(shot.asset_path), out)
                )
                spec.pop("keyframe", None)  # the preview's first frame is the shot's now
    return parse_storyboard(data, "storyboard")


def _final_board(
    ctx: RunContext, preview: _Preview, approved: list[str], kept: Collection[str] = ()
) -> tuple[Storyboard, router.Plan, router.Plan, set[str]]:
    """What the final renders and how it is routed, the routing of the unchanged storyboard, and
    the shots given their preview's first frame: those whose final model takes an image and whose
    quote does not rise with it (e.g. Veo 3.1 needs 8 s clips for a reference image)."""
    plain = final_route(ctx, _with_frames(ctx, preview, approved, set()), preview.tenant, kept)
    frame = set()
    for key in approved:
        spec = next(s for _, s in preview.board.shots() if s.id == key)
        clip = preview.shots[key].asset_path if key in preview.shots else None
        if spec.reference_image or spec.continues or spec.draws_keyframe:
            continue  # its own first frame, its predecessor's last, or its approved keyframe
        if not clip or not ctx.assets.exists(clip):
            continue
        if _takes_image(ctx, plain, key):
            frame.add(key)
    if not frame:
        return _with_frames(ctx, preview, approved, set()), plain, plain, frame
    framed = final_route(ctx, _with_frames(ctx, preview, approved, frame), preview.tenant, kept)
    keep = {key for key in frame if _price(framed, key) <= _price(plain, key) + 1e-9}
    board = _with_frames(ctx, preview, approved, keep)
    again = framed if keep == frame else final_route(ctx, board, preview.tenant, kept)
    return board, again, plain, keep


def _price(plan: router.Plan, key: str) -> float:
    decision = plan.decisions.get(key)
    primary = None if decision is None else decision.primary
    return float("inf") if primary is None else primary.quote_usd


_Routing = tuple[Storyboard, router.Plan, router.Plan]
"""What the final job renders (``committed_board``), how it is routed, and how the storyboard
routes without first frames."""


def _renders(plan: router.Plan, approved: list[str]) -> dict[str, str]:
    """The final job's shots that render, each with the preview shot it renders again: an
    approved shot, or each segment of one the final splits."""
    parts = parts_of(plan, approved)
    return {part: key for key in approved for part in parts.get(key, (key,))}


def _quote(ctx: RunContext, preview: _Preview, approved: list[str]) -> tuple[Quote, _Routing]:
    kept = kept_voice.kept_speeches(ctx, preview.board, preview.job_id, preview.tenant, approved)
    written, plan, plain, framed = _final_board(ctx, preview, approved, kept)
    board = committed_board(written, plan, approved)
    stages = commit_stages.stage_lines(
        ctx, board, _renders(plan, approved), (preview.job_id, preview.tenant), kept
    )
    quote = Quote(
        job_id=preview.job_id,
        lines=quote_lines(plan, approved, framed),
        budget_usd=preview.budget_usd,
        spent_usd=preview.spent_usd,
        reserved_usd=preview.reserved_usd,
        stages=stages,
    )
    return quote, (board, plan, plain)


def quote(ctx: RunContext, job_id: str, shots: list[str] | None = None) -> Quote:
    """The itemised final quote for committing ``shots`` (all when None) of a preview job."""
    preview = _load_preview(ctx, job_id)
    if preview.mode != "preview":
        raise ConflictError(f"job {job_id} is a {preview.mode} job; only a preview is quoted")
    return _quote(ctx, preview, _approved(preview, shots))[0]


def commit(
    ctx: RunContext,
    job_id: str,
    shots: list[str] | None = None,
    rejected: list[str] | None = None,
) -> CommitResult:
    """Create the final job for the approved ``shots`` of a delivered preview (not started).
    ``rejected`` are shots the reviewer looked at and declined at final: they keep their preview
    like every unapproved shot, and their final price counts as cost avoided.

    Raises ``NotFoundError``, ``ConflictError`` (not a delivered preview), ``StoryboardError``
    (unknown, unroutable or both approved and rejected shots) and ``BudgetExceededError`` (the
    quote does not fit what the budget has left); nothing is written then.
    """
    preview = _load_preview(ctx, job_id)
    if preview.mode != "preview":
        raise ConflictError(f"job {job_id} is a {preview.mode} job; only a preview is committed")
    if preview.status != JobStatus.DELIVERED:
        raise ConflictError(f"job {job_id} is {preview.status}; commit a delivered preview")
    approved = _approved(preview, shots)
    declined = _rejected(preview, approved, rejected or [])
    found, (board, plan, plain) = _quote(ctx, preview, approved)
    kept = tuple(key for key in preview.shots if key not in approved)
    prices = final_prices(plain, list(preview.shots))
    with session_scope(ctx.db_url) as session:
        # one commit of a preview at a time (the row lock that serialises ``ledger.reserve``), so
        # that two commits quoted at once are not both given what the budget has left
        jobs.lock_job(session, preview.job_id)
        _refuse_a_second_final(session, preview.job_id, approved)
        spent, held = commit_budget.budget_use(session, session.get_one(Job, preview.job_id))
        found = replace(found, spent_usd=spent, reserved_usd=held)
        if not found.fits:
            raise BudgetExceededError(
                f"committing {len(approved)} shot(s) is quoted at ${found.expected_usd:.2f} "
                f"expected (${found.low_usd:.2f}-${found.high_usd:.2f}{_stages_note(found)}); the "
                f"budget of ${preview.budget_usd or 0:.2f} has ${found.remaining_usd or 0:.2f} left"
            )
        final_id = _create_final(
            ctx, session, preview, (board, plan), _renders(plan, approved), found
        )
        session.add(
            JobCommit(
                preview_job_id=preview.job_id,
                final_job_id=final_id,
                tenant=preview.tenant,
                shots=list(approved),
                kept=list(kept),
                rejected=list(declined),
                quote=found.to_dict(),
                final_usd_by_shot=prices
                | {line.shot_id: line.expected_usd for line in found.lines},
            )
        )
        events.emit(session, preview.job_id, "job.committed", final_job=final_id, shots=approved)
    return CommitResult(preview.job_id, final_id, tuple(approved), kept, found, declined)


def _refuse_a_second_final(session: Session, preview_id: str, approved: list[str]) -> None:
    """An approved shot that an unfinished final of the preview already renders would be paid
    twice (a commit run again after its process was killed): refused, naming that final."""
    for final_id, status, shots in jobs.unfinished_finals(session, preview_id):
        if overlap := [key for key in approved if key in shots]:
            raise ConflictError(
                f"job {final_id}, a final of preview {preview_id}, is {status} and renders "
                f"{', '.join(overlap)}: let it finish (`shotline jobs resume {final_id}`; the "
                f"API's server resumes its own), or cancel it (`shotline jobs cancel {final_id}`, "
                f"POST /v1/jobs/{final_id}/cancel) before a new commit"
            )


def _stages_note(found: Quote) -> str:
    """The stages' share of a quote, by stage (``; of which stages $0.12: keyframe $0.08, ...``)."""
    totals = found.stage_totals()
    if not totals:
        return ""
    shares = ", ".join(f"{stage} ${usd:.2f}" for stage, usd in totals.items())
    return f"; of which stages ${found.stages_usd:.2f}: {shares}"


def _rejected(preview: _Preview, approved: list[str], rejected: list[str]) -> tuple[str, ...]:
    """The declined shot ids in storyboard order; each must be a shot of the job, not approved."""
    order = [shot.id for _, shot in preview.board.shots()]
    problems = []
    for index, key in enumerate(rejected):
        if key not in order:
            problems.append(
                Problem(f"rejected[{index}]", f"job {preview.job_id} has no shot {key!r}")
            )
        elif key in approved:
            problems.append(Problem(f"rejected[{index}]", f"shot {key!r} is also approved"))
    if problems:
        raise StoryboardError("the shots to reject are invalid", problems)
    return tuple(key for key in order if key in set(rejected))


def _final_output(ctx: RunContext, session: Session, preview: _Preview) -> str | None:
    """Where the final of a preview with an output file goes: ``OUT.final.mp4`` beside it, or
    ``OUT.final-2.mp4`` and on when an earlier commit's file or job has the name, so that a commit
    never overwrites another's deliverable. None (the final's own work directory) when the
    preview's is in the preview's: deleting the preview removes that directory."""
    if not preview.output_path:
        return None
    if Path(preview.output_path).parent == ctx.settings.work_dir / preview.job_id:
        return None
    if ctx.assets.remote:  # each job delivers into a directory of its own in the store
        name = Path(preview.output_path.rpartition("/")[2])
        return f"{name.stem}.final{name.suffix}"
    path = Path(preview.output_path)
    tags = ("final" if n == 1 else f"final-{n}" for n in itertools.count(1))
    names = (path.with_name(f"{path.stem}.{tag}{path.suffix}") for tag in tags)
    return str(
        next(n for n in names if not n.exists() and not jobs.output_claimed(session, str(n)))
    )


def _create_final(
    ctx: RunContext,
    session: Session,
    preview: _Preview,
    routed: tuple[Storyboard, router.Plan],
    renders: Collection[str],
    found: Quote,
) -> str:
    """Add the final job, given what the budget has left, in the caller's transaction: the
    shots in ``renders`` planned, the others accepted with their preview clips."""
    (board, plan), final_id, budget = routed, uuid.uuid4().hex, found.remaining_usd
    dirs = (ctx.asset_dir(preview.job_id), ctx.asset_dir(final_id))
    board = commit_versions.own_inputs(ctx.assets, board, dirs, f"{preview.tenant}/{final_id}")
    stored = board.model_copy(update={"budget_usd": budget})
    job = Job(
        id=final_id,
        tenant=preview.tenant,
        title=board.title,
        mode="final",
        providers=ctx.providers,
        storyboard=stored.model_dump(mode="json"),
        output_path=_final_output(ctx, session, preview),
        budget_usd=budget,
    )
    shots = [
        _final_shot((scene.id, shot.id, position), plan, renders, preview)
        for position, (scene, shot) in enumerate(board.shots())
    ]
    session.add(job)
    session.flush()
    for row in shots:
        row.job_id = final_id
        to = ShotStatus.PLANNED if row.key in renders else ShotStatus.ACCEPTED
        shot_created(session, row, to, model=row.model_id)
    info = jobs.api_record(session, preview.job_id)
    if info is not None:
        jobs.add_api_record(
            session, final_id, preview.tenant, source="commit", webhook_url=info.webhook_url
        )
    job_created(session, job, mode="final", shots=len(plan.decisions), commit_of=preview.job_id)
    return final_id


def _final_shot(
    where: tuple[str, str, int],
    plan: router.Plan,
    renders: Collection[str],
    preview: _Preview,
) -> Shot:
    """A shot that renders (approved, or a segment of one) freshly routed at final, or an
    unapproved one keeping its preview clip (created ``accepted`` by the caller)."""
    scene_id, key, position = where
    if key in renders:
        return planned_shot(scene_id, key, position, plan.decisions[key], plan.variants)
    kept = preview.shots[key]
    return Shot(
        key=key,
        scene_id=scene_id,
        position=position,
        route=kept.route,
        model_id=kept.model_id,
        verdict=kept.verdict,
        asset_path=kept.asset_path,
    )
