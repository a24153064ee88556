"""The state machine as one step per message, for engines that never block a worker (Celery).

Each step reads its rows, calls the same step functions as the embedded engine (``attempts``,
``polling``, ``verdicts``, ``assembly``, ``consistency``) and returns the moves of the step cursors
(``pipeline.steps``): what runs next, on what, after how long. ``run_step`` leases the cursor for a
message, runs the step and writes the moves; the caller sends the returned messages after that
commit. Rows and outcomes are the embedded engine's: same attempts, events, ledger and deliverable.
The job steps (``start``, ``finish``) and the dispatch of a message are here; the shot steps are in
``pipeline.shot_steps``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import nullcontext

from sqlalchemy import select

from foundation import stopping
from foundation.states import JOB_ENDED, SHOT_ENDED, JobStatus
from foundation.stopping import Stopped
from pipeline import (
    admission,
    assembly,
    attempts,
    consistency,
    continuity,
    music_stage,
    verdicts,
    wakeups,
)
from pipeline import steps as cursors
from pipeline.assets import AssetStoreUnavailableError
from pipeline.context import RunContext
from pipeline.errors import StaleStatusError, disk_full_in, public_message
from pipeline.shot_steps import (
    begin,
    done_move,
    gate,
    keyframe,
    native_renders,
    normalise,
    poll,
    sheet,
    shot_of,
    shot_over,
    submit,
    voice,
)
from pipeline.steps import ABSENT, Cursor, Dispatch, Move, shot_key
from pipeline.transitions import job_to
from store.db import session_scope
from store.errors import DATABASE_UNREACHABLE
from store.models import Job, Shot

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
STEP_PRIORITY = {"finish": 0, "normalise": 3, "gate": 6}
"""The order in which waiting CPU steps run, lowest first, on both engines: a step nearer its job's
delivery goes before one that starts new work, so an accepted shot is normalised while later shots
are still being gated, and the stitch waits only for the last shot's own steps. The values are
steps of kombu's Redis priorities (``kombu/transport/redis.py`` 5.7.0: ``PRIORITY_STEPS = [0, 3,
6, 9]``, one list per step, BRPOP reading the lowest first), so Celery keeps them apart too."""
FRESH = frozenset({ABSENT, "done", "wait"})
Step = Callable[[RunContext, Cursor], list[Move]]
RETRY_LATER = (*DATABASE_UNREACHABLE, AssetStoreUnavailableError)
FINISH_RECHECK_S = 0.1  # how soon ``finish`` looks again while a shot's last step completes
STALE_RERUNS = 3  # a step that keeps meeting moved rows after this many runs is a bug


# --- job steps ---------------------------------------------------------------------------------


def start(ctx: RunContext, cur: Cursor) -> list[Move]:
    """Mark the job running and open a cursor for every unfinished shot (``wait`` while the shot
    it continues from is unfinished)."""
    job_id = cur.job_id
    with session_scope(ctx.db_url) as session:
        job = session.get(Job, job_id)
        if job is None or job.status in JOB_ENDED:
            return [done_move(cur)]
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
        return [done_move(cur)]
    if cursors.shots_mid_step(ctx.db_url, job_id):
        return [Move(cur.key, job_id, "finish", job_id, FINISH_RECHECK_S)]
    unfinished = _unfinished_shots(ctx, job_id)
    if unfinished:  # shots reset for a re-render before a crash: drive them again
        return _redrive(cur, unfinished, _waits_for(ctx, job_id))
    offending = consistency.check(ctx, job_id)
    if (
        offending
        and consistency.wants_rerender(ctx, job_id)
        and not consistency.already_rerendered(ctx, job_id)
    ):
        waits_for = _waits_for(ctx, job_id)
        again = continuity.with_followers(waits_for, offending)
        consistency.reset_for_rerender(ctx, again)
        return _redrive(cur, again, waits_for)
    waiting = music_stage.before_finish(ctx, cur)  # the job's bed: composing, or failed
    if isinstance(waiting, str):
        assembly.fail_job(ctx, job_id, "music", waiting)
        return [done_move(cur)]
    if waiting:
        return waiting
    assembly.conclude(ctx, job_id)
    return [done_move(cur)]


def music(ctx: RunContext, cur: Cursor) -> list[Move]:
    """The job's music stage (``music_stage.step``). A bed no model of its chain delivered ends
    the job now, while its shots may still be rendering: the job fails at stage ``music`` with the
    reason, its open attempts are cancelled at their providers and their reservations released,
    and its unfinished shots are cancelled (``assembly.fail_job``), so no shot not yet sent is
    paid for a job that cannot be delivered."""
    return _unless_bed_failed(ctx, cur, music_stage.step(ctx, cur))


def _unless_bed_failed(ctx: RunContext, cur: Cursor, moves: list[Move]) -> list[Move]:
    why = music_stage.failure(ctx, cur.job_id)
    if why is None:
        return moves
    assembly.fail_job(ctx, cur.job_id, "music", why)
    wakeups.job_ended(cur.job_id)
    return [done_move(cur)]


def _unfinished_shots(ctx: RunContext, job_id: str) -> list[int]:
    with session_scope(ctx.db_url) as session:
        return list(
            session.scalars(
                select(Shot.id).where(Shot.job_id == job_id, Shot.status.not_in(SHOT_ENDED))
            )
        )


def _waits_for(ctx: RunContext, job_id: str) -> dict[int, int]:
    with session_scope(ctx.db_url) as session:
        return continuity.waits_for(session, job_id)


def _redrive(cur: Cursor, shot_pks: list[int], waits_for: dict[int, int]) -> list[Move]:
    """Drive ``shot_pks`` (sent back to ``planned``) again, as ``start`` drives a job's shots: one
    that continues from another of them waits for its new clip (begun by that shot's ``done``).
    Begun at once, an ``extends`` part was sent without the clip it extends, as a plain render of
    the extension's length (a 7 s Veo render, which Veo refuses), after its job had paid."""
    again = set(shot_pks)
    moves = [Move(cur.key, cur.job_id, "shots", cur.job_id)]
    for pk in shot_pks:
        name = "wait" if waits_for.get(pk) in again else "begin"
        moves.append(Move(shot_key(pk), cur.job_id, name, str(pk), when=FRESH))
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
    "music": music,
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
        return _unless_bed_failed(ctx, cur, music_stage.abandon(ctx, cur, reason))
    if cur.key.startswith("job:"):
        with session_scope(ctx.db_url) as session:
            job = session.get_one(Job, cur.job_id)
            ended, stage = job.status in JOB_ENDED, job.stage
        if not ended:
            assembly.fail_job(ctx, cur.job_id, stage, reason)
        return [done_move(cur)]
    shot_pk = shot_of(cur)
    attempts.fail_shot(ctx, shot_pk, reason, stage="internal")
    return shot_over(ctx, cur, shot_pk)


def run_step(
    ctx: RunContext,
    step: str,
    ref: str,
    version: int,
    holder: str,
    lease_s: float,
    *,
    renewed: bool = False,
) -> list[Dispatch]:
    """Run one message: lease its cursor (stale and duplicate messages stop here), run the step,
    write the moves. Returns the messages to send now that the moves are committed. ``renewed``:
    the lease is renewed while the step runs (``steps.kept_alive``), so it can be short."""
    if _stranded:
        _release_stranded(ctx)  # the database is back: first the leases it could not take back
    cur = cursors.claim(ctx.db_url, step, ref, version, lease_s, holder)
    if cur is None:
        if cursors.known(ctx.db_url, step, ref):
            log.debug("%s(%s) v%s is stale or taken", step, ref, version)
        else:  # its job was deleted, or this worker is on another database than its sender
            log.warning("%s(%s) names no job or attempt in this database; is this worker on "
                        "the SHOTLINE_DATABASE_URL of the process that queued it?", step, ref)  # fmt: skip
        return []
    try:
        with cursors.kept_alive(ctx.db_url, cur, holder, lease_s) if renewed else nullcontext():
            moves = _run_fresh(ctx, step, cur)
    except (*RETRY_LATER, Stopped) as exc:  # the database is unreachable, or this process is
        _release_quietly(ctx, cur)  # stopping (``foundation.stopping``): the step runs again later
        if (full := disk_full_in(exc)) is not None:
            raise stopping.disk_full(full) from exc
        raise
    except Exception as exc:  # a bug must end the shot, not leave the job hanging
        if (full := disk_full_in(exc)) is not None:  # nor does a full disk: no work can go on
            _release_quietly(ctx, cur)
            raise stopping.disk_full(full) from exc
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


_stranded: dict[tuple[str, str], Cursor] = {}
"""The leases this process could not give back (the database was away when its step ended), by
database and cursor key. No claim could take one before its lease expired (a normalise's: 30
minutes), this process's own retry included, so a database back after a 20 s restart left a
render waiting on those shots with no end; each is given back once the database answers."""
_stranded_lock = threading.Lock()


def _release_quietly(ctx: RunContext, cur: Cursor) -> None:
    try:
        cursors.release(ctx.db_url, cur, ctx.settings.reap_after_s)
    except RETRY_LATER:
        log.warning("could not release %s; it is released when the database answers", cur.key)
        with _stranded_lock:
            _stranded[(ctx.db_url, cur.key)] = cur


def _release_stranded(ctx: RunContext) -> None:
    """Give back this process's stranded leases on ``ctx``'s database (their steps ended here,
    so nothing runs them); those it still cannot give back stay for the next step."""
    with _stranded_lock:
        held = [cur for (url, _), cur in _stranded.items() if url == ctx.db_url]
    for cur in held:
        cursors.release(ctx.db_url, cur, ctx.settings.reap_after_s)
        with _stranded_lock:
            if _stranded.get((ctx.db_url, cur.key)) is cur:
                del _stranded[(ctx.db_url, cur.key)]
