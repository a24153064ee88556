"""The shot steps of the step graph (``pipeline.flow``): from ``begin`` through a shot's stages,
its video attempt (submit, poll, gate), its native variant renders and its normalise, to
``shot_over``, which releases the shots that continue from it and moves the job on to ``finish``
once every shot has ended. Each takes the leased cursor and returns its moves."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from foundation.states import (
    ATTEMPT_AT_PROVIDER,
    ATTEMPT_HELD,
    ATTEMPT_PROVIDER_DONE,
    SHOT_ENDED,
    SHOT_LOST,
    AttemptStatus,
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
from pipeline.context import RunContext
from pipeline.limits import slot_lease_s
from pipeline.poll_schedule import compensated
from pipeline.recovery import HELD_STEP
from pipeline.render_times import bounds as poll_bounds
from pipeline.render_times import finished_after, next_poll_s
from pipeline.steps import Cursor, Move, job_key, shot_key
from store.db import session_scope
from store.models import Attempt, Job, Shot

log = logging.getLogger(__name__)


def done_move(cur: Cursor) -> Move:
    return Move(cur.key, cur.job_id, "done", cur.ref)


def shot_of(cur: Cursor) -> int:
    """The shot a shot cursor (``shot:<pk>``) drives."""
    return int(cur.key.removeprefix("shot:"))


def to_begin(cur: Cursor, shot_pk: int, delay_s: float = 0.0) -> Move:
    return Move(cur.key, cur.job_id, "begin", str(shot_pk), delay_s)


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
        return [done_move(cur)]
    with session_scope(ctx.db_url) as session:
        shot = session.get_one(Shot, shot_pk)
        board = session.get_one(Job, shot.job_id).storyboard  # begin_in reads the same row
        orphaned = _orphaned(session, shot, board)
        if not orphaned and voice_stage.pending(session, shot, board):
            return [Move(cur.key, cur.job_id, "voice", str(shot_pk))]
        if not orphaned and keyframe_stage.pending(session, shot, board):
            step = sheet_stage.status(session, shot, board)
            if step == "wait":  # another shot draws the sheet its keyframe is conditioned on
                return [to_begin(cur, shot_pk, sheets.WAIT_S)]
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
        return [_after_acceptance(ctx, cur, shot_pk)]
    if state in ATTEMPT_AT_PROVIDER:
        return [Move(cur.key, cur.job_id, "poll", ref, since=time.time())]
    if state in ATTEMPT_PROVIDER_DONE:
        return [Move(cur.key, cur.job_id, "gate", ref)]
    if state in ATTEMPT_HELD:  # waits for an operator (pipeline.recovery.resolve)
        return [Move(cur.key, cur.job_id, HELD_STEP, ref)]
    return [Move(cur.key, cur.job_id, "submit", ref, delay)]


def _orphaned(session: Session, shot: Shot, board: dict[str, Any]) -> bool:
    """A planned shot whose ``continues`` predecessor ended without a clip (``board``: the job's
    storyboard; the other shots are read only for a shot that continues one)."""
    if shot.status != ShotStatus.PLANNED or shot.key not in continuity.continuing(board):
        return False
    shots = continuity.shot_places(session, shot.job_id)
    after = continuity.dependencies(board, shots).get(shot.id)
    return after is not None and next(s.status for s in shots if s.id == after) in SHOT_LOST


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
        return [done_move(cur)]
    wait = run(ctx, shot_pk)
    if wait > 0:  # the model has no free slot: the reserved try asks again then
        return [Move(cur.key, cur.job_id, cur.name, cur.ref, wait)]
    with session_scope(ctx.db_url) as session:
        status = session.scalar(select(Shot.status).where(Shot.id == shot_pk))
    if status in SHOT_ENDED:
        return shot_over(ctx, cur, shot_pk)
    return [to_begin(cur, shot_pk)]


def submit(ctx: RunContext, cur: Cursor) -> list[Move]:
    """Submit once the model has a free slot and room in its minute (``admission``), else try
    again after the wait it returns; the slot stays held while the provider renders."""
    attempt_id = int(cur.ref or 0)
    if cur.cancelled:
        admission.release(ctx, attempt_id)
        return [done_move(cur)]
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
    return [to_begin(cur, shot_pk)]


def poll(ctx: RunContext, cur: Cursor) -> list[Move]:
    """One poll; pending polls are rescheduled (``render_times.next_poll_s``), never slept. The
    attempt's row is read once, for the poll, its model's slot and the next poll's time."""
    attempt_id = int(cur.ref or 0)
    if cur.cancelled:
        admission.release(ctx, attempt_id)
        return [done_move(cur)]
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
    return [to_begin(cur, shot_of(cur))]


def _lag(ctx: RunContext, cur: Cursor, now: float) -> float:
    """How long after it was due this step ran (0 when it had no due time)."""
    return 0.0 if cur.due_at is None else now - (cur.due_at - ctx.settings.reap_after_s)


def gate(ctx: RunContext, cur: Cursor) -> list[Move]:
    """Fetch the clip and gate it: accepted clips go to normalise, the rest to the next attempt."""
    attempt_id = int(cur.ref or 0)
    shot_pk = shot_of(cur)
    if cur.cancelled:
        return [done_move(cur)]
    if verdicts.fetch(ctx, attempt_id, cur.since) and verdicts.judge(ctx, attempt_id) in (
        "accept",
        "repair",
    ):
        return [_after_acceptance(ctx, cur, shot_pk)]
    return [to_begin(cur, shot_pk)]


def _after_acceptance(ctx: RunContext, cur: Cursor, shot_pk: int) -> Move:
    """An accepted shot's next step: its native variant renders when it has some, else its
    normalise (a step saved for every shot without them)."""
    step = "native" if native.planned(ctx, shot_pk) else "normalise"
    return Move(cur.key, cur.job_id, step, str(shot_pk))


def native_renders(ctx: RunContext, cur: Cursor) -> list[Move]:
    """The accepted shot's renders in its native variants' aspects (``pipeline.native``), then
    its normalise; a shot without any goes straight on."""
    if cur.cancelled:
        return [done_move(cur)]
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
        board, shots = continuity.placed_shots(session, job_id)
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
