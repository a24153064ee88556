"""Assembly: the plan -> one verified deliverable (MP4, optional HLS, poster, contact sheet)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from foundation.storyboard import Transition
from media.runner import run_ffmpeg
from stitching import audio as audio_mod
from stitching import measured
from stitching.captions import Captions, Cue, caption_paths, check_sidecars, cues_for
from stitching.captions import write_sidecars as write_captions
from stitching.errors import PlanError, VerificationError
from stitching.interchange import export as export_edit
from stitching.interchange import interchange_paths
from stitching.loudness_check import Reference, check_loudness, within_reach
from stitching.measured import Assembled, Prepared
from stitching.picture import copy_mismatches, programme_picture
from stitching.plan import EditPlan, MusicBed, check_joins, plan_edit
from stitching.profile import OutputProfile
from stitching.segment import normalise
from stitching.sheet import write_thumbs
from stitching.sound import AudioParts, Demuxed, audio_track, demux_all
from stitching.verify import failures, picture_checks, summarise
from stitching.video import mux
from stitching.written import verify_written

__all__ = [
    "StitchResult", "assemble", "copy_mismatches", "keyframe_hints", "mux", "output_files",
    "sample_offsets", "stitch",
]  # fmt: skip

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class StitchResult:
    path: Path
    plan: EditPlan
    verification: dict[str, Any]
    poster: Path
    contact_sheet: Path
    plan_path: Path
    hls: Path | None = None
    video_path: str = "copy"
    timings: dict[str, float] = field(default_factory=dict)
    edit_files: dict[str, Path] = field(default_factory=dict)
    """The edit as ``otio``, ``fcpxml`` and ``edl`` files (``stitching.interchange``)."""
    captions: dict[str, Path] = field(default_factory=dict)
    """The captions as ``srt`` and ``vtt`` files (``stitching.captions``)."""


def output_files(out: Path) -> dict[str, Path]:
    """Every file ``assemble`` delivers for the output ``out``, by name (HLS aside)."""
    sidecars = {"plan": "plan.json", "poster": "poster.jpg", "contact_sheet": "contact.jpg"}
    named = {name: out.with_name(f"{out.stem}.{suffix}") for name, suffix in sidecars.items()}
    return {"video": out, **named, **interchange_paths(out), **caption_paths(out)}


def _timed(timings: dict[str, float], name: str, job: Callable[[], T]) -> T:
    start = time.perf_counter()
    try:
        return job()
    finally:
        timings[name] = round(time.perf_counter() - start, 3)


def _hls(video: Path, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    playlist = out_dir / "index.m3u8"
    run_ffmpeg(
        ["-i", str(video), "-c", "copy", "-f", "hls", "-hls_time", "2",
         "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
         "-hls_flags", "independent_segments",
         "-hls_segment_filename", str(out_dir / "seg_%03d.m4s"), str(playlist)]
    )  # fmt: skip
    return playlist


def _check_files(plan: EditPlan) -> None:
    missing = [
        f"{shot.shot_id}: {path}"
        for shot in plan.shots
        for path in (shot.segment.path, shot.segment.audio_path)
        if not path.is_file()
    ]
    if missing:
        raise PlanError("segments of the plan are missing: " + "; ".join(missing))


def assemble(
    plan: EditPlan,
    out: Path,
    *,
    hls: bool = False,
    captions: Captions | None = None,
    audio_of: StitchResult | None = None,
) -> StitchResult:
    """Render ``plan`` to ``out`` (H.264/AAC MP4, faststart) and verify the file.

    Writes ``OUT.plan.json``, ``OUT.poster.jpg``, ``OUT.contact.jpg``, the edit for NLEs
    (``OUT.otio``, ``OUT.fcpxml``, ``OUT.edl``) and the captions (``OUT.srt``, ``OUT.vtt``, empty
    without dialogue; burned into the picture too with ``captions.burn_in``) beside it (and
    ``OUT_hls/index.m3u8`` with ``hls``). ``audio_of``, an output of the same edit already
    verified (the main output, for a variant), lends its loudness measurement when the file's
    audio track is proven the same packets (``loudness_check.check_loudness``). Raises
    ``VerificationError`` carrying the measured numbers when the output does not match the plan;
    the files are kept for inspection.

    The picture checks (cuts and clean joins) decode the video track while the audio is still
    being encoded; the final file is then proven to carry exactly those video packets.
    """
    _check_files(plan)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.stem}.{uuid.uuid4().hex[:10]}.work"
    work.mkdir()
    timings: dict[str, float] = {}
    start = time.perf_counter()
    reference = None
    if audio_of is not None:
        loudness = audio_of.verification["checks"]["loudness"]
        reference = (audio_of.path, loudness, f"{audio_of.path.name} (verified)")
    options = _Options(hls, captions or Captions(), reference)
    try:
        result = _rendered(plan, out, work, options, timings)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    timings["total"] = round(time.perf_counter() - start, 3)
    if not result.verification["passed"]:
        lines = "\n  ".join(failures(result.verification))
        raise VerificationError(
            f"{out}: output does not match its plan:\n  {lines}", result.verification
        )
    return result


def _rendered(
    plan: EditPlan, out: Path, work: Path, options: _Options, timings: dict[str, float]
) -> StitchResult:
    """``_render``, then again with the programme mixed and encoded whole where only its loudness
    failed: the copied audio's (``_copied_audio_missed_loudness``), then an encoded programme's
    true peak (``_encoded_peak_over``)."""
    result = _render(plan, out, work, options, timings)
    if _copied_audio_missed_loudness(result.verification):
        log.warning("stitching: copied audio missed the loudness target, mixing it again")
        result = _render(plan, out, work, options, timings, encode_audio=True)
    for _ in range(PEAK_RETRIES):
        over = _encoded_peak_over(result.verification)
        if over is None:
            break
        headroom = options.headroom_db + over + PEAK_MARGIN_DB
        log.warning("stitching: the AAC encode put the true peak %.2f dB over the ceiling; "
                    "mixing it again %.2f dB lower", over, headroom)  # fmt: skip
        options = options._replace(headroom_db=headroom)
        result = _render(plan, out, work, options, timings, encode_audio=True)
    return result


def _only_loudness_failed(verification: dict[str, Any], audio_path: str) -> bool:
    """The loudness check alone failed, on audio made by ``audio_path`` (``copy``, ``encode``)."""
    failed = {name for name, check in verification["checks"].items() if not check["passed"]}
    return failed == {"loudness"} and verification["render"].get("audio_path") == audio_path


def _copied_audio_missed_loudness(verification: dict[str, Any]) -> bool:
    """The copy path's loudness is an estimate (``estimate_lufs``); where the file misses the
    target with only that check failing, a full mix and normalise fixes it."""
    return _only_loudness_failed(verification, "copy")


PEAK_RETRIES = 2
PEAK_MARGIN_DB = 0.3
"""The AAC encode can put a limited programme's true peak over the ceiling despite the limiter's
1 dB headroom (loud speech at -10 LUFS: -0.8 dBTP for a -1 ceiling, measured on the file): it is
mixed again, held lower by the excess and this margin, at most ``PEAK_RETRIES`` times."""


def _encoded_peak_over(verification: dict[str, Any]) -> float | None:
    """How far the true peak of a mixed and encoded programme passed the ceiling, when that is
    all that failed (None otherwise)."""
    if not _only_loudness_failed(verification, "encode"):
        return None
    loudness = verification["checks"]["loudness"]
    over = float(loudness["true_peak_db"]) - float(loudness["true_peak_limit_db"])
    return over if over > 0 else None


class _Options(NamedTuple):
    hls: bool
    captions: Captions
    reference: Reference | None
    headroom_db: float = 0.0


def _sound(
    plan: EditPlan, encode: bool, options: _Options
) -> tuple[AudioParts, dict[str, Any], Prepared | None]:
    """The programme's audio to mux, its report, and what the segments' measurements give of its
    loudness (``measured.prepare``; None with a measurement lent, or when none applies)."""
    interiors, packets, report = audio_mod.render(plan, encode, options.headroom_db)
    useful = options.reference is None and interiors
    return (
        AudioParts(interiors, packets),
        report,
        measured.prepare(plan, interiors) if useful else None,
    )


Loudness = Assembled | Reference | None


def _loudness(
    plan: EditPlan,
    sound: tuple[AudioParts, Prepared | None],
    demuxed: dict[Path, Demuxed],
    work: Path,
    options: _Options,
) -> Callable[[], Loudness]:
    """What measures the programme while the video is muxed: its loudness put together from the
    segments' measurements and the joins decoded from copies of the packets about to be muxed
    (``measured``, copies taken now); where those do not apply, its audio track written alone
    and measured (unless ``options.reference`` lends a measurement). ``verify_written`` uses
    either once the output's audio is proven the same packets, else measures the output."""
    parts, prepared = sound
    reference = options.reference
    if reference is not None:
        return lambda: reference
    if prepared is not None:
        copies = measured.picked(plan, parts, prepared, demuxed)

        def put_together() -> Loudness:
            try:
                return measured.assembled(plan, copies, prepared)
            except measured.MissingAudio as exc:  # the output is measured, and fails its checks
                log.warning("stitching: %s; measuring the output's audio", exc)
                return None

        return put_together

    def track() -> Loudness:
        path = work / "audio.mp4"
        audio_track(plan, parts, path)
        return path, check_loudness(plan, path), "the programme's audio measured as it was muxed"

    return track


def _render(
    plan: EditPlan,
    out: Path,
    work: Path,
    options: _Options,
    timings: dict[str, float],
    *,
    encode_audio: bool = False,
) -> StitchResult:
    hls, captions, cues = options.hls, options.captions, cues_for(plan, options.captions)
    tmp, files_of = work / "out.mp4", output_files(out)
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=4) as pool:
        segments = [shot.segment.path for shot in plan.shots]
        reading = pool.submit(_timed, timings, "demux", lambda: demux_all(segments, stack))
        sound = pool.submit(_timed, timings, "audio", lambda: _sound(plan, encode_audio, options))
        picture = _timed(
            timings, "video", lambda: programme_picture(plan, work, cues, captions.burn_in)
        )
        files, video_path = picture.files, picture.video_path
        joins = pool.submit(
            _timed, timings, "verify_joins",
            lambda: picture_checks(plan, out, picture.files, picture.under),
        )  # fmt: skip
        parts, audio_report, prepared = sound.result()
        demuxed = reading.result()
        measure = _loudness(plan, (parts, prepared), demuxed, work, options)
        early = pool.submit(_timed, timings, "loudness", measure)
        written = _timed(timings, "mux", lambda: mux(plan, files, parts, tmp, demuxed))
        # read in the work folder, put at ``out`` once checked (a kill -9 leaves the earlier one)
        finished, subtitles = _sidecars(plan, (out, tmp), (cues, captions), pool, timings)
        playlist = pool.submit(_hls, tmp, out.with_name(f"{out.stem}_hls")) if hls else None
        loudness = early.result()
        checks = _timed(
            timings, "verify_file", lambda: verify_written(plan, tmp, written, loudness)
        )
        checks["loudness"] = within_reach(
            plan, checks["loudness"], audio_report.get("reachable_lufs")
        )
        if checks["loudness"]["passed"] and "reachable_lufs" in checks["loudness"]:
            log.warning("stitching: %s", checks["loudness"]["note"])
        checks |= joins.result()
        edit_files = finished()
        checks["captions"] = check_sidecars(cues, subtitles) | {"burn_in": captions.burn_in}
        hls_path = playlist.result() if playlist is not None else None
    os.replace(tmp, out)
    verification = summarise(checks)
    verification["render"] = {"video_path": video_path, **audio_report}
    verification["captions"] = [cue.to_dict() for cue in cues]
    return StitchResult(
        out, plan, verification, files_of["poster"], files_of["contact_sheet"], files_of["plan"],
        hls_path, video_path, timings, edit_files, subtitles,
    )  # fmt: skip


def _sidecars(
    plan: EditPlan,
    written: tuple[Path, Path],
    captioned: tuple[list[Cue], Captions],
    pool: ThreadPoolExecutor,
    timings: dict[str, float],
) -> tuple[Callable[[], dict[str, Path]], dict[str, Path]]:
    """Write ``OUT.plan.json`` and the captions, and start the edit files, the poster and the
    contact sheet (``written``: the output's path, and the file its frames are read from now):
    (a call waiting for those that returns the edit files, the captions)."""
    (out, video), (cues, captions) = written, captioned
    named = output_files(out)
    stored = plan.to_dict() | {"captions": captions.to_dict()}
    named["plan"].write_text(json.dumps(stored, indent=2), encoding="utf-8")
    edit = pool.submit(
        _timed, timings, "edit_files", lambda: export_edit(plan, out, cues, captions.voices)
    )
    subtitles = write_captions(cues, out)
    thumbs = pool.submit(
        _timed, timings, "thumbs",
        lambda: write_thumbs(plan, video, named["poster"], named["contact_sheet"]),
    )  # fmt: skip

    def finished() -> dict[str, Path]:
        thumbs.result()
        return dict(edit.result())

    return finished, subtitles


def keyframe_hints(
    transitions: list[Transition], frames: list[int], profile: OutputProfile
) -> list[tuple[int, int]]:
    """(head_frames, tail_frames) per shot: the frames its transitions in and out will cover."""
    overlaps = [profile.transition_frames(t) for t in transitions]
    return [
        (overlaps[i], overlaps[i + 1] if i + 1 < len(overlaps) else 0) for i in range(len(frames))
    ]


def sample_offsets(
    transitions: list[Transition], frames: list[int], profile: OutputProfile
) -> list[int]:
    """Programme sample where each shot will start (what ``plan_edit`` will compute)."""
    offsets, start = [profile.samples_for(0)], 0
    for index in range(1, len(frames)):
        start += frames[index - 1] - profile.transition_frames(transitions[index])
        offsets.append(profile.samples_for(start))
    return offsets[: len(frames)]


def stitch(
    clips: list[tuple[str, Path, Transition, float]],
    profile: OutputProfile,
    out: Path,
    work_dir: Path,
    *,
    hls: bool = False,
    music: MusicBed | None = None,
    captions: Captions | None = None,
) -> StitchResult:
    """Normalise every clip (shot id, source, transition into it, planned seconds), then assemble."""
    frames = [profile.frames_for(seconds) for _, _, _, seconds in clips]
    transitions = [t for _, _, t, _ in clips]
    check_joins([(c[0], c[2], n) for c, n in zip(clips, frames, strict=True)], profile)
    hints = keyframe_hints(transitions, frames, profile)
    offsets = sample_offsets(transitions, frames, profile)
    work_dir.mkdir(parents=True, exist_ok=True)
    targets = [work_dir / f"{i:03d}-{clip[0]}.mp4" for i, clip in enumerate(clips)]
    arrivals = zip(clips, frames, hints, targets, offsets, strict=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [
            pool.submit(
                normalise,
                clip[1],
                profile,
                count,
                target,
                head_frames=h,
                tail_frames=t,
                sample_offset=offset,
            )
            for clip, count, (h, t), target, offset in arrivals
        ]
        segments = [job.result() for job in jobs]
    items = [(c[0], seg, c[2]) for c, seg in zip(clips, segments, strict=True)]
    return assemble(plan_edit(items, profile, music=music), out, hls=hls, captions=captions)
