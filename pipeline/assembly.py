"""Normalise each accepted shot as soon as it arrives, then stitch and verify the deliverable; and how
a job ends under either engine (``conclude``, ``cancel_job``, ``fail_job``)."""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import stitching
from foundation.errors import ShotlineError
from foundation.states import JOB_ENDED, JOB_UNFINISHED, JobStatus, ShotStatus
from foundation.storyboard import Shot as ShotSpec
from foundation.storyboard import Storyboard, Transition
from foundation.variants import Variant
from pipeline import closing, events, music_stage, native, voice_stage
from pipeline.assets import is_remote
from pipeline.context import RunContext
from pipeline.errors import public_message
from pipeline.transitions import following_moves, job_to, shot_to
from store.db import session_scope
from store.models import Job, Shot

log = logging.getLogger(__name__)


def profile_of(board: Storyboard) -> stitching.OutputProfile:
    return stitching.OutputProfile.from_output_spec(board.output)


def captions_of(
    board: Storyboard, voices: dict[str, dict[str, Any]] | None = None
) -> stitching.Captions:
    """The storyboard's dialogue by shot id, whether to burn it in, and the voice clips of the
    lines a tts stage spoke (``voice_stage.placements``: their cues follow the clips)."""
    dialogue = {shot.id: shot.dialogue for _, shot in board.shots() if shot.dialogue}
    return stitching.Captions(dialogue, burn_in=board.captions.burn_in, voices=voices or {})


def music_of(ctx: RunContext, board: Storyboard, job_id: str) -> stitching.MusicBed | None:
    """The storyboard's music bed as the stitcher lays it (None without one): its file, or the
    bed the job's music stage composed (``music_stage``); a bed in a remote asset store is
    fetched to this machine first."""
    music = board.music
    if music is None:
        return None
    source = music.file
    if source is None:
        source, why = music_stage.bed_of(ctx, job_id)
        if source is None:
            raise MusicMissingError(f"music: {why}")
    path = ctx.assets.local(source)
    return stitching.MusicBed(path, gain_db=music.gain_db, duck_db=music.duck_db)


class MusicMissingError(ShotlineError):
    """The job's generated bed is not there to stitch (its stage failed, or it was lost)."""


@lru_cache(maxsize=32)
def _board(text: str) -> Storyboard:
    """A job's storyboard, validated once per content (every shot's normalise reads the whole
    board; a re-render that edits it gets its own entry). Callers only read it."""
    return Storyboard.model_validate(json.loads(text))


def normalise_shot(ctx: RunContext, shot_pk: int) -> None:
    """Convert an accepted clip to the output profile, trimmed to its planned frames (once)."""
    with session_scope(ctx.db_url) as session:
        shot = session.get_one(Shot, shot_pk)
        if shot.status != ShotStatus.ACCEPTED or not shot.asset_path:
            return
        job = session.get_one(Job, shot.job_id)
        board = _board(json.dumps(job.storyboard, sort_keys=True))
        asset, key, job_id, scope = shot.asset_path, shot.key, job.id, f"{job.tenant}/{job.id}"
        shots = [s for _, s in board.shots()]
        index = next(i for i, s in enumerate(shots) if s.id == key)
        # its neighbours' segments only: the windows joining them are all this normalise makes
        segments = _segments_of(
            session, job_id, [s.id for s in shots[max(index - 1, 0) : index + 2]]
        )
    source = voiced_clip(ctx, job_id, key, ctx.assets.local(asset))
    profile = profile_of(board)
    counts = [profile.frames_for(s.duration) for s in shots]
    transitions = [s.transition_in for s in shots]
    hints = stitching.keyframe_hints(transitions, counts, profile)
    offsets = stitching.sample_offsets(transitions, counts, profile)
    before, after = _neighbours(ctx, shots, index, segments)
    out = ctx.work_dir(job_id) / f"segment-{key}.mp4"
    natives = native.accepted_clips(ctx, shot_pk)  # these variants are not cropped
    variants = [
        v for v in variant_jobs(ctx, job_id, board, index) if v.variant.label not in natives
    ]
    try:
        segment, _ = stitching.normalise_fanout(
            source, profile, counts[index], out, hints=hints[index],
            sample_offset=offsets[index], before=before, after=after, variants=variants,
        )  # fmt: skip
    except ShotlineError as exc:
        with session_scope(ctx.db_url) as session:
            shot = session.get_one(Shot, shot_pk)
            shot.error = f"normalise: {public_message(exc)}"
            shot_to(session, shot, ShotStatus.FAILED, reason=shot.error, stage="normalise")
        return
    native.make_segments(ctx, job_id, board, key, natives, (segment, hints[index], profile))
    reframe_on_arrival(ctx, job_id, board, key, (segment, hints[index]))
    stored = stored_segment(ctx, segment, scope)
    with session_scope(ctx.db_url) as session:
        shot = session.get_one(Shot, shot_pk)
        shot.segment = stored
        shot_to(session, shot, ShotStatus.NORMALISED, frames=counts[index])
    prerender_windows(ctx, job_id, board, index, segments | {key: stored})
    for variant in board.output.variant_list():
        made = variant_segments(ctx, job_id, board, variant)
        variant_profile = stitching.variant_profile(profile, variant)
        prerender_windows(ctx, job_id, board, index, made, variant_profile)


def voiced_clip(ctx: RunContext, job_id: str, key: str, clip: Path) -> Path:
    """The accepted clip with the shot's spoken line (its tts stage) mixed over its own sound at
    the line's offset (``stitching.voiceover``); the clip itself for a shot without one."""
    voice = voice_stage.placements(ctx, job_id).get(key)
    if voice is None or not voice.get("path"):
        return clip
    from media.probe import probe
    from media.runner import run_ffmpeg

    out = ctx.work_dir(job_id) / f"voiced-{key}.mp4"
    line = ctx.assets.local(str(voice["path"]))
    has_audio = probe(clip).has_audio
    run_ffmpeg(stitching.overlay_argv(clip, line, float(voice["offset_s"]), has_audio, out))
    return out


def stored_segment(ctx: RunContext, segment: stitching.Segment, scope: str) -> dict[str, Any]:
    """The row of ``segment`` once put in the asset store (its audio and sidecars travel along)."""
    data = segment.to_dict()
    ref = ctx.assets.put(segment.path, scope)
    if ref != data["path"]:
        data["path"], data["audio_path"] = ref, _beside(ref, segment.audio_path)
    return data


def _beside(ref: str, path: Path) -> str:
    return f"{ref.rpartition('/')[0]}/{path.name}"


def segment_of(ctx: RunContext, data: dict[str, Any]) -> stitching.Segment:
    """A segment row with its files on this machine (fetched from the asset store if needed)."""
    if not is_remote(data["path"]):
        return stitching.Segment.from_dict(data)
    path = ctx.assets.local(data["path"])
    audio = path.with_name(Path(data["audio_path"]).name)
    return stitching.Segment.from_dict({**data, "path": path, "audio_path": audio})


def reframe_on_arrival(
    ctx: RunContext,
    job_id: str,
    board: Storyboard,
    key: str,
    arrived: tuple[stitching.Segment, tuple[int, int]],
) -> None:
    """Reframe shot ``key``'s new segment (with its keyframe hints) into every variant the board
    asks for that its normalise run did not make (``variant_jobs``; those are found made), while
    other shots still render, before the shot counts as normalised (stitching then finds them
    made: ``stitching.reframed``). Best effort: stitching reframes whatever is missing."""
    segment, hints = arrived
    for variant in board.output.variant_list():
        out = stitching.variant_segment_path(ctx.work_dir(job_id), key, variant.label)
        try:
            stitching.reframed(segment, hints, profile_of(board), variant, out)
        except ShotlineError as exc:
            log.warning("job %s: shot %s not reframed to %s: %s", job_id, key, variant.text, exc)


def variant_jobs(
    ctx: RunContext, job_id: str, board: Storyboard, index: int
) -> list[stitching.VariantJob]:
    """What shot ``index``'s normalise run makes for each variant the board asks for: its
    segment, and the windows into the variant's neighbours already made on this machine."""
    shots = [s for _, s in board.shots()]
    work = ctx.work_dir(job_id)
    jobs = []
    for variant in board.output.variant_list():
        found: list[Neighbour | None] = []
        for other, into in ((index - 1, index), (index + 1, index + 1)):
            made = None
            if 0 <= other < len(shots) and into < len(shots):
                path = stitching.variant_segment_path(work, shots[other].id, variant.label)
                made = stitching.made_segment(path)
            found.append(None if made is None else (made, shots[into].transition_in))
        out = stitching.variant_segment_path(work, shots[index].id, variant.label)
        jobs.append(stitching.VariantJob(variant, out, found[0], found[1]))
    return jobs


def variant_segments(
    ctx: RunContext, job_id: str, board: Storyboard, variant: Variant
) -> dict[str, dict[str, Any]]:
    """The shots' segments reframed to ``variant`` so far, by shot key."""
    work = ctx.work_dir(job_id)
    made = {
        shot.id: stitching.made_segment(
            stitching.variant_segment_path(work, shot.id, variant.label)
        )
        for _, shot in board.shots()
    }
    return {key: segment.to_dict() for key, segment in made.items() if segment is not None}


def _segments_of(
    session: Session, job_id: str, keys: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """The job's stored segments by shot key (only those of ``keys`` when given)."""
    query = select(Shot.key, Shot.segment).where(Shot.job_id == job_id)
    if keys is not None:
        query = query.where(Shot.key.in_(keys))
    return {key: dict(segment) for key, segment in session.execute(query) if segment}


Neighbour = tuple[stitching.Segment, Transition]


def _neighbours(
    ctx: RunContext, shots: list[ShotSpec], index: int, segments: dict[str, dict[str, Any]]
) -> tuple[Neighbour | None, Neighbour | None]:
    """(previous segment, transition into this shot), (next segment, transition into it), when
    already normalised: the windows joining them are rendered while this shot is normalised."""
    found: list[Neighbour | None] = []
    for other, into in ((index - 1, index), (index + 1, index + 1)):
        if 0 <= other < len(shots) and into < len(shots) and shots[other].id in segments:
            segment = segment_of(ctx, segments[shots[other].id])
            found.append((segment, shots[into].transition_in))
        else:
            found.append(None)
    return found[0], found[1]


def prerender_windows(
    ctx: RunContext,
    job_id: str,
    board: Storyboard,
    index: int,
    segments: dict[str, dict[str, Any]],
    profile: stitching.OutputProfile | None = None,
) -> None:
    """Render the transition windows between shot ``index`` and neighbours already normalised
    (``segments``, by shot key) that its normalise run did not make, such as the first shot's
    fade in; in ``profile`` (a variant's) if given. Best effort: stitching renders whatever is
    missing."""
    shots = [s for _, s in board.shots()]
    runs = [(index - 1, index), (index, index + 1)] + ([(0, 0)] if index == 0 else [])
    for lo, hi in runs:
        run = shots[max(lo, 0) : hi + 1]
        if lo < 0 or hi >= len(shots) or shots[hi].transition_in.kind == "cut":
            continue
        if any(s.id not in segments for s in run):
            continue
        items = [(s.id, segment_of(ctx, segments[s.id]), s.transition_in) for s in run]
        try:
            stitching.prerender(
                profile or profile_of(board), items, ctx.work_dir(job_id), starts_edit=lo == 0
            )
        except ShotlineError as exc:
            log.warning("job %s: window into %s not prerendered: %s", job_id, shots[hi].id, exc)


def stitch_job(ctx: RunContext, job_id: str) -> JobStatus:
    """Assemble the normalised segments in storyboard order, verify, deliver. Returns the status."""
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        board = Storyboard.model_validate(job.storyboard)
        shots = list(
            session.scalars(select(Shot).where(Shot.job_id == job_id).order_by(Shot.position))
        )
        job.stage = "stitching"
        events.emit(session, job_id, "job.stitching")
        output, scope = _destination(ctx, job), f"{job.tenant}/{job.id}"
        segments = {s.key: dict(s.segment or {}) for s in shots}
    profile = profile_of(board)
    transitions = {shot.id: Transition.parse(shot.transition) for _, shot in board.shots()}
    try:
        parts = [(key, segment_of(ctx, data), transitions[key]) for key, data in segments.items()]
        plan = stitching.plan_edit(parts, profile, music=music_of(ctx, board, job_id))
        captions = captions_of(board, voice_stage.placements(ctx, job_id))
        result = stitching.assemble(plan, output, captions=captions)
    except ShotlineError as exc:
        return fail_job(ctx, job_id, "stitching", public_message(exc))
    try:
        variants = stitching.deliver_variants(
            plan, output, board.output.variant_list(), ctx.work_dir(job_id),
            captions=captions, main=result,
        )  # fmt: skip
    except ShotlineError as exc:
        return fail_job(ctx, job_id, "variants", public_message(exc))
    delivered = ctx.assets.put(result.path, scope)  # with its variants and sidecars
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        if job.status in JOB_ENDED:  # cancelled while stitching
            return JobStatus(job.status)
        job.stage = "delivered"
        job.output_path = delivered
        job.verification = dict(result.verification)
        if variants:
            job.verification["variants"] = {
                label: {key: variant.verification[key] for key in ("passed", "checks")}
                for label, variant in variants.items()
            }
        job_to(session, job, JobStatus.DELIVERED, output=delivered)
    return JobStatus.DELIVERED


def _destination(ctx: RunContext, job: Job) -> Path:
    """Where the stitcher writes the output: the job's path, or its work directory when none is
    asked for or the files go to a remote asset store (the caller may be on another machine)."""
    asked = job.output_path
    if asked and not ctx.assets.remote:
        return Path(asked)
    name = Path(asked).name if asked else "output.mp4"
    return ctx.work_dir(job.id) / name


def conclude(ctx: RunContext, job_id: str) -> JobStatus:
    """End a job whose shots have all stopped, under either engine: failed when a shot has no
    segment, else stitched. Returns the status."""
    with session_scope(ctx.db_url) as session:
        shots = list(
            session.scalars(select(Shot).where(Shot.job_id == job_id).order_by(Shot.position))
        )
        failed = next((shot for shot in shots if shot.status != ShotStatus.NORMALISED), None)
        if failed is not None:
            error = f"shot {failed.key}: {failed.error or failed.status}"
            return fail_job(ctx, job_id, "shots", error, failed.key)
    return stitch_job(ctx, job_id)


def cancel_job(ctx: RunContext, job_id: str) -> bool:
    """Cancel a job that has not ended, under either engine: its provider jobs are cancelled, its
    reservations released and the row says ``cancelled``, which every step reads and then ends.
    Returns whether this call cancelled it.

    One transaction: a step never sees the shots cancelled under a job still running (it would
    fail the job for its lost shots)."""
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        moved = following_moves(  # a step may move it meanwhile (planned -> running)
            session,
            job,
            lambda: job.status in JOB_UNFINISHED,
            lambda: job_to(session, job, JobStatus.CANCELLED),
        )
        closing.cancel_open_work(ctx, session, job_id)
    return moved


def fail_job(
    ctx: RunContext, job_id: str, stage: str, message: str, shot_key: str | None = None
) -> JobStatus:
    """Mark the job failed at ``stage`` and close every attempt still open under it, releasing
    its reservation, and cancel its shots that have not ended: nothing stays ``submitted`` or
    ``gating``, and no shot goes on rendering, under a job that has ended (its steps end too:
    ``steps.claim``)."""
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        if job.status in JOB_ENDED:  # cancelled meanwhile: that stands
            return JobStatus(job.status)
        job.stage, job.error = stage, message
        if shot_key is not None:
            job.error_shot = shot_key
        closing.close_open(ctx, session, job_id, f"job failed: {message}")
        closing.cancel_shots(session, job_id)
        job_to(session, job, JobStatus.FAILED, shot=shot_key, error=message, stage=stage)
    return JobStatus.FAILED
