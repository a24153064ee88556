"""The state machine as one step per message, for engines that never block a worker (Celery).

Each step reads its rows, calls the same step functions as the embedded engine (``attempts``,
``polling``, ``verdicts``, ``assembly``, ``consistency``) and returns the moves of the step cursors
(``pipeline.steps``): what runs next, on what, after how long. ``run_step`` leases the cursor for a
message, runs the step and writes the moves; the caller sends the returned messages after that
commit. Rows and outcomes are the embedded engine's: same attempts, events, ledger and deliverable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from foundation.states import (
    ATTEMPT_AT_PROVIDER,
    ATTEMPT_HELD,
    ATTEMPT_PROVIDER_DONE,
    JOB_ENDED,
    SHOT_ENDED,
    SHOT_LOST,
    AttemptStatus,
    JobStatus,
    ShotStatus,
)
from pipeline import (
    admission,
    assembly,
    attempts,
    consistency,
    continuity,
    keyframe_stage,
    music_stage,
    native,
    polling,
    sheet_stage,
    sheets,
    verdicts,
    voice_stage,
)
from pipeline import steps as cursors
from pipeline.assets import AssetStoreUnavailableError
from pipeline.context import RunContext
from pipeline.errors import StaleStatusError, public_message
from pipeline.limits import slot_lease_s
from pipeline.poll_schedule import compensated
from pipeline.recovery import HELD_STEP
from pipeline.render_times import bounds as poll_bounds
from pipeline.render_times import finished_after, next_poll_s
from pipeline.steps import ABSENT, Cursor, Dispatch, Move, job_key, shot_key
from pipeline.transitions import job_to
from store.db import session_scope
from store.models import Attempt, Job, Shot

log = logging.getLogger(__name__)

STEP_QUEUE = {
    "start": "io",
    "begin": "io",
    "voice": "io",
    "keyframe": "io",
    "sheet": "io",
    "music": "io",
    "submit": "io",
    "poll": "io",
    "gate": "cpu",
    "native": "io",
    "normalise": "cpu",
    "finish": "cpu",
}
FRESH = frozenset({ABSENT, "done", "wait"})
Step = Callable[[RunContext, Cursor], list[Move]]
RETRY_LATER = (OperationalError, InterfaceError, AssetStoreUnavailableError)
FINISH_RECHECK_S = 0.1  # how soon ``finish`` looks again while a shot's last step completes
STALE_RERUNS = 3  # a step that keeps meeting moved rows after this many runs is a bug


def _done(cur: Cursor) -> Move:
    return Move(cur.key, cur.job_id, "done", cur.ref)


def _shot_of(cur: Cursor) -> int:
    """The shot a shot cursor (``shot:<pk>``) drives."""
    return int(cur.key.removeprefix("shot:"))


def _to_begin(cur: Cursor, shot_pk: int, delay_s: float = 0.0) -> Move:
    return Move(cur.key, cur.job_id, "begin", str(shot_pk), delay_s)


# --- job steps ---------------------------------------------------------------------------------


def start(ctx: RunContext, cur: Cursor) -> list[Move]:
    """Mark the job running and open a cursor for every unfinished shot (``wait`` while the shot
    it continues from is unfinished)."""
    job_id = cur.job_id
    with session_scope(ctx.db_url) as session:
        job = session.get(Job, job_id)
        if job is None or job.status in JOB_ENDED:
            return [_done(cur)]
        job.stage = "shots"
        job_to(session, job, JobStatus.RUNNING)
        shots = list(
            session.scalars(select(Shot).where(Shot.job_id == job_id).order_by(Shot.position))
        )
        waits_for = continuity.dependencies(job.storyboard, shots)
        mode = job.mode
        prompts = [str(s.get("prompt", "")) for sc in job.storyboard["scenes"] for s in sc["shots"]]
    status = {shot.id: shot.status for shot in shots}
    pending = [shot for shot in shots if shot.status not in SHOT_ENDED]
    if not pending:
        return [Move(cur.key, job_id, "finish", job_id)]
    verdicts.warm_gate(ctx.settings, mode, prompts)
    moves = [Move(cur.key, job_id, "shots", job_id)]
    for shot in pending:
        after = waits_for.get(shot.id)
        name = "wait" if after is not None and status[after] not in SHOT_ENDED else "begin"
        moves.append(Move(shot_key(shot.id), job_id, name, str(shot.id), when=FRESH))
    return moves


def finish(ctx: RunContext, cur: Cursor) -> list[Move]:
    """Consistency (with at most one re-render round), then fail the job or stitch it. It waits
    while a shot's cursor is still in the step that ended the shot: a shot sent back for a
    re-render must have its cursor at rest, or the move that drives it again is lost."""
    job_id = cur.job_id
    if cur.cancelled:
        return [_done(cur)]
    if cursors.shots_mid_step(ctx.db_url, job_id):
        return [Move(cur.key, job_id, "finish", job_id, FINISH_RECHECK_S)]
    unfinished = _unfinished_shots(ctx, job_id)
    if unfinished:  # shots reset for a re-render before a crash: drive them again
        return _redrive(cur, unfinished)
    offending = consistency.check(ctx, job_id)
    if (
        offending
        and consistency.wants_rerender(ctx, job_id)
        and not consistency.already_rerendered(ctx, job_id)
    ):
        consistency.reset_for_rerender(ctx, offending)
        return _redrive(cur, offending)
    waiting = music_stage.before_finish(ctx, cur)  # the job's bed: composing, or failed
    if isinstance(waiting, str):
        assembly.fail_job(ctx, job_id, "music", waiting)
        return [_done(cur)]
    if waiting:
        return waiting
    assembly.conclude(ctx, job_id)
    return [_done(cur)]


def _unfinished_shots(ctx: RunContext, job_id: str) -> list[int]:
    with session_scope(ctx.db_url) as session:
        return list(
            session.scalars(
                select(Shot.id).where(Shot.job_id == job_id, Shot.status.not_in(SHOT_ENDED))
            )
        )


def _redrive(cur: Cursor, shot_pks: list[int]) -> list[Move]:
    moves = [Move(cur.key, cur.job_id, "shots", cur.job_id)]
    return moves + [Move(shot_key(pk), cur.job_id, "begin", str(pk), when=FRESH) for pk in shot_pks]


# --- shot steps --------------------------------------------------------------------------------


def begin(ctx: RunContext, cur: Cursor) -> list[Move]:
    """Open the shot's current or next attempt and route it by its state (one transaction: the
    shot's row is read once, and the attempt's state is the row ``attempts.begin_in`` returns).
    A shot whose voiced line is not spoken yet goes to its tts stage (``voice``) first, then one
    whose keyframe is not drawn yet to its keyframe stage (``keyframe``), after the reference
    sheets it is conditioned on (``sheet`` when the shot owns one, else a short wait: see
    ``pipeline.sheets``); a shot with none of them costs no extra query."""
    shot_pk = int(cur.ref or 0)
    if cur.cancelled:
        return [_done(cur)]
    with session_scope(ctx.db_url) as session:
        shot = session.get_one(Shot, shot_pk)
        board = session.get_one(Job, shot.job_id).storyboard  # begin_in reads the same row
        orphaned = _orphaned(session, shot)
        if not orphaned and voice_stage.pending(session, shot, board):
            return [Move(cur.key, cur.job_id, "voice", str(shot_pk))]
        if not orphaned and keyframe_stage.pending(session, shot, board):
            step = sheet_stage.status(session, shot, board)
            if step == "wait":  # another shot draws the sheet its keyframe is conditioned on
                return [_to_begin(cur, shot_pk, sheets.WAIT_S)]
            return [Move(cur.key, cur.job_id, step or "keyframe", str(shot_pk))]
        if orphaned:
            attempts.fail_shot_in(session, shot, "the shot it continues from has no clip")
            attempt, delay, over = None, 0.0, True
        else:
            attempt, delay = attempts.begin_in(ctx, session, shot)
            over = attempt is None and shot.status != ShotStatus.ACCEPTED
        state = attempt.status if attempt is not None else None
        ref = str(attempt.id) if attempt is not None else ""
    if over:  # after the commit: ``shot_over`` must see this shot ended
        return shot_over(ctx, cur, shot_pk)
    if attempt is None:  # accepted (a cached clip, or its attempt was accepted before a crash)
        return [Move(cur.key, cur.job_id, "native", str(shot_pk))]
    if state in ATTEMPT_AT_PROVIDER:
        return [Move(cur.key, cur.job_id, "poll", ref, since=time.time())]
    if state in ATTEMPT_PROVIDER_DONE:
        return [Move(cur.key, cur.job_id, "gate", ref)]
    if state in ATTEMPT_HELD:  # waits for an operator (pipeline.recovery.resolve)
        return [Move(cur.key, cur.job_id, HELD_STEP, ref)]
    return [Move(cur.key, cur.job_id, "submit", ref, delay)]


def _orphaned(session: Session, shot: Shot) -> bool:
    """A planned shot whose ``continues`` predecessor ended without a clip."""
    if shot.status != ShotStatus.PLANNED:
        return False
    board, shots = _placed_shots(session, shot.job_id)
    after = continuity.dependencies(board, shots).get(shot.id)
    return after is not None and next(s.status for s in shots if s.id == after) in SHOT_LOST


class _Placed(NamedTuple):
    id: int
    key: str
    position: int
    status: str


def _placed_shots(session: Session, job_id: str) -> tuple[dict[str, Any], list[_Placed]]:
    """The job's storyboard and its shots' ids, keys, positions and statuses (not whole rows:
    a step that asks where every shot is reads no routes, verdicts or segments)."""
    board = session.scalar(select(Job.storyboard).where(Job.id == job_id))
    shots = session.execute(
        select(Shot.id, Shot.key, Shot.position, Shot.status).where(Shot.job_id == job_id)
    ).all()
    return board or {"scenes": []}, [_Placed(*row) for row in shots]


def voice(ctx: RunContext, cur: Cursor) -> list[Move]:
    """The shot's tts stage (``voice_stage.speak``), then its video stage; a shot whose line
    could not be voiced has failed and ends here, before its video is paid for."""
    return _before_video(ctx, cur, voice_stage.speak)


def keyframe(ctx: RunContext, cur: Cursor) -> list[Move]:
    """The shot's keyframe stage (``keyframe_stage.draw``), then its video stage, which animates
    the keyframe; a shot no image model could draw has failed and ends here, before its video is
    paid for."""
    return _before_video(ctx, cur, keyframe_stage.draw)


def sheet(ctx: RunContext, cur: Cursor) -> list[Move]:
    """The reference sheets the shot owns (``sheet_stage.draw``), then back to ``begin``, which
    sends it on to its keyframe; a shot no image model could draw a sheet for has failed."""
    return _before_video(ctx, cur, sheet_stage.draw)


def _before_video(
    ctx: RunContext, cur: Cursor, run: Callable[[RunContext, int], float]
) -> list[Move]:
    shot_pk = int(cur.ref or 0)
    if cur.cancelled:
        return [_done(cur)]
    wait = run(ctx, shot_pk)
    if wait > 0:  # the model has no free slot: the reserved try asks again then
        return [Move(cur.key, cur.job_id, cur.name, cur.ref, wait)]
    with session_scope(ctx.db_url) as session:
        status = session.scalar(select(Shot.status).where(Shot.id == shot_pk))
    if status in SHOT_ENDED:
        return shot_over(ctx, cur, shot_pk)
    return [_to_begin(cur, shot_pk)]


def submit(ctx: RunContext, cur: Cursor) -> list[Move]:
    """Submit once the model has a free slot and room in its minute (``admission``), else try
    again after the wait it returns; the slot stays held while the provider renders."""
    attempt_id = int(cur.ref or 0)
    if cur.cancelled:
        admission.release(ctx, attempt_id)
        return [_done(cur)]
    wait = admission.admit(ctx, attempt_id)
    if wait > 0:
        return [Move(cur.key, cur.job_id, "submit", cur.ref, wait)]
    left = attempts.submit(ctx, attempt_id)
    if left is None:  # another step may have moved it: read it again
        with session_scope(ctx.db_url) as session:
            left = attempts.Submitted(
                *session.execute(
                    select(Attempt.status, Attempt.shot_id, Attempt.model_id).where(
                        Attempt.id == attempt_id
                    )
                ).one()
            )
    state, shot_pk, model_id = left
    if state == AttemptStatus.SUBMITTED:
        admission.sent(ctx, attempt_id, model_id)
        # the first poll also renews the model's concurrency slot, so it comes before the lease ends
        first = min(next_poll_s(ctx, model_id, 0.0, polls=0), slot_lease_s(ctx.settings) / 2)
        return [Move(cur.key, cur.job_id, "poll", cur.ref, first, since=time.time())]
    admission.release(ctx, attempt_id, model_id)
    return [_to_begin(cur, shot_pk)]


def poll(ctx: RunContext, cur: Cursor) -> list[Move]:
    """One poll; pending polls are rescheduled (``render_times.next_poll_s``), never slept. The
    attempt's row is read once, for the poll, its model's slot and the next poll's time."""
    attempt_id = int(cur.ref or 0)
    if cur.cancelled:
        admission.release(ctx, attempt_id)
        return [_done(cur)]
    row = polling.polled(ctx, attempt_id)
    outcome = polling.poll_once(ctx, attempt_id, cur.since, row=row)
    now = time.time()
    elapsed = now - cur.since if cur.since is not None else 0.0
    if outcome == "pending":
        admission.renew(ctx, attempt_id, row.model_id)
        delay = next_poll_s(ctx, row.model_id, elapsed, polls=1)
        delay = compensated(delay, _lag(ctx, cur, now), poll_bounds(ctx))
        return [Move(cur.key, cur.job_id, "poll", cur.ref, delay, since=cur.since)]
    admission.release(ctx, attempt_id, row.model_id)
    if outcome == "succeeded":  # the gate's ``since``: when the render most likely started
        first = row.status == AttemptStatus.SUBMITTED
        start = now - finished_after(ctx, row.model_id, elapsed, first)
        return [Move(cur.key, cur.job_id, "gate", cur.ref, since=start)]
    return [_to_begin(cur, _shot_of(cur))]


def _lag(ctx: RunContext, cur: Cursor, now: float) -> float:
    """How long after it was due this step ran (0 when it had no due time)."""
    return 0.0 if cur.due_at is None else now - (cur.due_at - ctx.settings.reap_after_s)


def gate(ctx: RunContext, cur: Cursor) -> list[Move]:
    """Fetch the clip and gate it: accepted clips go to normalise, the rest to the next attempt."""
    attempt_id = int(cur.ref or 0)
    shot_pk = _shot_of(cur)
    if cur.cancelled:
        return [_done(cur)]
    if verdicts.fetch(ctx, attempt_id, cur.since) and verdicts.judge(ctx, attempt_id) in (
        "accept",
        "repair",
    ):
        return [Move(cur.key, cur.job_id, "native", str(shot_pk))]
    return [_to_begin(cur, shot_pk)]


def native_renders(ctx: RunContext, cur: Cursor) -> list[Move]:
    """The accepted shot's renders in its native variants' aspects (``pipeline.native``), then
    its normalise; a shot without any goes straight on."""
    if cur.cancelled:
        return [_done(cur)]
    wait = native.advance(ctx, int(cur.ref or 0))
    if wait > 0:
        return [Move(cur.key, cur.job_id, "native", cur.ref, wait)]
    return [Move(cur.key, cur.job_id, "normalise", cur.ref)]


def normalise(ctx: RunContext, cur: Cursor) -> list[Move]:
    shot_pk = int(cur.ref or 0)
    assembly.normalise_shot(ctx, shot_pk)
    consistency.warm(ctx, shot_pk)
    return shot_over(ctx, cur, shot_pk)


def shot_over(ctx: RunContext, cur: Cursor, shot_pk: int) -> list[Move]:
    """The shot has ended: release the shots that continue from it; the job's last shot to end
    (seen after its own commit, so one always sees all), its bed composed, moves the job on to
    ``finish``."""
    job_id = cur.job_id
    with session_scope(ctx.db_url) as session:
        board, shots = _placed_shots(session, job_id)
        all_done = all(shot.status in SHOT_ENDED for shot in shots)
        # the job's bed, read after this shot's commit as the music step reads the shots after its
        all_done = all_done and music_stage.outcome(session, job_id, board) != "pending"
    dependents = [
        pk for pk, after in continuity.dependencies(board, shots).items() if after == shot_pk
    ]
    moves = [Move(cur.key, job_id, "done", str(shot_pk))]
    moves += [
        Move(shot_key(pk), job_id, "begin", str(pk), when=frozenset({"wait"})) for pk in dependents
    ]
    if all_done:
        moves.append(Move(job_key(job_id), job_id, "finish", job_id, when=frozenset({"shots"})))
    return moves


def start_job(ctx: RunContext, cur: Cursor) -> list[Move]:
    """``start``, and a cursor for the job's music stage when its bed is still to compose: it
    runs beside the shots, off the critical path (``finish`` waits for it)."""
    moves = start(ctx, cur)
    if any(m.key == cur.key and m.name in ("shots", "finish") for m in moves):
        moves += music_stage.launch(ctx, cur.job_id)
    return moves


STEPS: dict[str, Step] = {
    "start": start_job,
    "begin": begin,
    "voice": voice,
    "keyframe": keyframe,
    "sheet": sheet,
    "music": music_stage.step,
    "submit": submit,
    "poll": poll,
    "gate": gate,
    "native": native_renders,
    "normalise": normalise,
    "finish": finish,
}


def abandon(ctx: RunContext, cur: Cursor, reason: str) -> list[Move]:
    """End a step that cannot run (it crashed, or its messages keep getting lost): the shot fails
    (and the job carries on), or the job fails."""
    if cur.name in ("submit", "poll") and cur.ref:  # its slot would stay held for a lease
        admission.release(ctx, int(cur.ref))
    if cur.key.startswith("music:"):
        return music_stage.abandon(ctx, cur, reason)
    if cur.key.startswith("job:"):
        with session_scope(ctx.db_url) as session:
            job = session.get_one(Job, cur.job_id)
            ended, stage = job.status in JOB_ENDED, job.stage
        if not ended:
            assembly.fail_job(ctx, cur.job_id, stage, reason)
        return [_done(cur)]
    shot_pk = _shot_of(cur)
    attempts.fail_shot(ctx, shot_pk, reason, stage="internal")
    return shot_over(ctx, cur, shot_pk)


def run_step(
    ctx: RunContext, step: str, ref: str, version: int, holder: str, lease_s: float
) -> list[Dispatch]:
    """Run one message: lease its cursor (stale and duplicate messages stop here), run the step,
    write the moves. Returns the messages to send now that the moves are committed."""
    cur = cursors.claim(ctx.db_url, step, ref, version, lease_s, holder)
    if cur is None:
        log.debug("%s(%s) v%s is stale or taken", step, ref, version)
        return []
    try:
        moves = _run_fresh(ctx, step, cur)
    except RETRY_LATER:  # the database is unreachable: the step is retried later
        _release_quietly(ctx, cur)
        raise
    except Exception as exc:  # a bug must end the shot, not leave the job hanging
        log.exception("step %s(%s) of job %s crashed", step, ref, cur.job_id)
        moves = abandon(ctx, cur, f"internal error: {public_message(exc)}")
    return cursors.apply(ctx.db_url, cur, moves, ctx.settings.reap_after_s)


def _run_fresh(ctx: RunContext, step: str, cur: Cursor) -> list[Move]:
    """Run the step. A row another transaction moved meanwhile (a cancel) rolls the step's
    transaction back, and the step runs again on what it now reads (steps are idempotent)."""
    for _ in range(STALE_RERUNS):
        try:
            return STEPS[step](ctx, cur)
        except StaleStatusError as exc:
            log.debug("step %s(%s) runs again: %s", step, cur.ref, exc)
    return STEPS[step](ctx, cur)


def _release_quietly(ctx: RunContext, cur: Cursor) -> None:
    try:
        cursors.release(ctx.db_url, cur, ctx.settings.reap_after_s)
    except RETRY_LATER:
        log.warning("could not release %s; its lease expires instead", cur.key)
