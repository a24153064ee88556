"""Verify the rendered file against its plan: measured numbers and a pass/fail per check."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import av
import numpy as np

from media.frames import Gray
from media.frames import gray_frames as _gray_frames
from stitching.crossed import NOISE, drawn_runs
from stitching.digest import file_digest
from stitching.edges import (
    FREEZE_MAD,
    edges_path,
    frame_proxies,
    is_black,
    mad,
    run_stats,
    still_reference,
)
from stitching.loudness_check import Check, Reference, check_loudness
from stitching.plan import EditPlan, ShotPlan
from stitching.segment import Segment
from stitching.video import PacketKey, Source, packet_key

CUT_MIN_SCORE = 6.0
CUT_CONTRAST = 2.0
DRAWN_NOISE = 8  # grey levels a proxy may move by when its frame is re-encoded (``check_drawn``)
DRAWN_SLACK = 0.05  # share of pixels a neighbour may agree on beyond the frame itself
AAC_FRAME = 1024


def _streams(path: Path) -> Check:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        frames, video_end = 0, 0.0
        for packet in container.demux(video):
            if packet.pts is None or not packet.size or packet.time_base is None:
                continue
            frames += 1
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            video_end = max(video_end, end)
        audio_s = 0.0
        if audio is not None and audio.duration is not None and audio.time_base is not None:
            audio_s = float(audio.duration * audio.time_base)
        return {"frames": frames, "video_s": video_end, "audio_s": audio_s}


def check_timing(plan: EditPlan, path: Path) -> tuple[Check, Check]:
    return timing(plan, _streams(path))


def timing(plan: EditPlan, measured: Check) -> tuple[Check, Check]:
    """Duration and A/V sync from the file's ``frames``, ``video_s`` and ``audio_s``."""
    frame_s = 1 / float(plan.profile.rate)
    duration = {
        "planned_frames": plan.total_frames,
        "video_frames": measured["frames"],
        "planned_s": round(plan.total_seconds, 6),
        "video_s": round(measured["video_s"], 6),
        "tolerance_s": round(frame_s, 6),
    }
    duration["passed"] = (
        measured["frames"] == plan.total_frames
        and abs(measured["video_s"] - plan.total_seconds) <= frame_s + 1e-6
    )
    aac_s = AAC_FRAME / plan.profile.sample_rate
    diff = measured["audio_s"] - measured["video_s"]
    sync = {
        "video_s": round(measured["video_s"], 6),
        "audio_s": round(measured["audio_s"], 6),
        "difference_ms": round(diff * 1000, 2),
        "tolerance_ms": round(aac_s * 1000, 2),
        "passed": abs(diff) <= aac_s + 1e-6,
    }
    return duration, sync


def _join_frames(plan: EditPlan) -> tuple[int, list[int]]:
    margin = plan.profile.verify_margin
    wanted: list[int] = []
    for shot in plan.shots[1:]:
        start = max(0, shot.timeline_in - margin - 1)
        wanted += range(
            start, min(plan.total_frames, shot.timeline_in + shot.transition_frames + margin)
        )
    return margin, wanted


def planned_changes(plan: EditPlan) -> frozenset[int]:
    """The timeline frames at which the plan itself changes the picture: each join's first frame
    and, for a transition, every frame of it and the first one after (its last step)."""
    return frozenset(
        k
        for shot in plan.shots
        for k in range(shot.timeline_in, shot.timeline_in + shot.transition_frames + 1)
    )


def _cut(shot: ShotPlan, frames: dict[int, Gray], margin: int, planned: frozenset[int]) -> Check:
    j = shot.timeline_in

    @cache  # ``cut_like`` asks for each frame's neighbours: every difference is taken once
    def score(k: int) -> float:
        # another join's change a frame or two away (a short shot after a crossfade) is planned:
        # neither a neighbour the cut must stand out from nor a cut that went astray
        if k != j and k in planned:
            return 0.0
        return mad(frames[k], frames[k - 1]) if k in frames and k - 1 in frames else 0.0

    def cut_like(k: int) -> bool:
        """A change that stands out from the frames around it, as a cut does from a shot's own
        motion."""
        around = max(score(n) for n in (k - 2, k - 1, k + 1, k + 2))
        return score(k) >= CUT_MIN_SCORE and score(k) >= CUT_CONTRAST * around

    at = score(j)
    around = max(score(k) for k in (j - 2, j - 1, j + 1, j + 2))
    detected = at >= CUT_MIN_SCORE and at >= CUT_CONTRAST * around  # ``cut_like(j)``
    # Frames j-1 and j are the two shots' own frames (stream copy), so a low score at j means the
    # shots look alike there: no visible cut is expected. The join is misplaced only when a cut-like
    # change shows up elsewhere in the decoded window and is stronger than the one at j. A shot's
    # own motion is not one: a ``continues`` shot out of a busy one (every frame 9 grey levels from
    # the last) joins it at 6, and its join was failed as misplaced after every shot was paid.
    window = range(j - margin, j + shot.transition_frames + margin + 1)
    elsewhere = max((score(k) for k in window if k != j and cut_like(k)), default=0.0)
    misplaced = not detected and elsewhere > at
    return {"shot": shot.shot_id, "frame": j, "score": round(at, 2), "neighbours": round(around, 2),
            "detected": detected, "misplaced": misplaced}  # fmt: skip


def _clean_window(plan: EditPlan, index: int, margin: int) -> range:
    """The timeline frames judged for the join into ``plan.shots[index]``: ``margin`` either side
    of it and its transition, not reaching into the previous join's transition or the next one's
    (a short shot's neighbouring fade dips to black where the plan says so)."""
    shot, previous = plan.shots[index], plan.shots[index - 1]
    start = max(shot.timeline_in - margin, previous.timeline_in + previous.transition_frames)
    stop = shot.timeline_in + shot.transition_frames + margin
    if index + 1 < len(plan.shots):
        stop = min(stop, plan.shots[index + 1].timeline_in)
    return range(start, stop)


def _source_runs(
    prev: Segment, seg: Segment, frames: dict[int, Gray], j: int, since: int
) -> tuple[int, int]:
    """The longest black and frozen runs the two segments' own edges explain at the join ``j``:
    the longer of the two, or their sum where the join does not change the picture (a shot ending
    on the still its successor starts on, as a ``continues`` shot may; two black edges). Before,
    such a join at 120 fps, a 30-frame still across it, failed against its sources' 17
    (``tests/stitching/test_join_freeze.py``).

    The still goes on across the join when frame ``j`` is within ``FREEZE_MAD`` of the frame the
    run is measured from (``still_reference`` of the frames from ``since``), as ``longest_still``
    measures the output. Compared with frame ``j - 1`` alone, two frames each within it of the
    run's first frame but 0.5 or more apart broke the sum: a cut between two near-alike stills at
    34x34 failed (the output's run of 6 against the larger edge's 4) after every shot was paid."""
    black = max(prev.tail_black, seg.head_black)
    frozen = max(prev.tail_frozen, seg.head_frozen)
    before, after = frames.get(j - 1), frames.get(j)
    if before is not None and after is not None:
        if is_black(before) and is_black(after):
            black = prev.tail_black + seg.head_black
        reference = still_reference([frames[k] for k in range(since, j) if k in frames])
        if reference is not None and mad(reference, after) < FREEZE_MAD:
            frozen = prev.tail_frozen + seg.head_frozen
    return black, frozen


def _clean(plan: EditPlan, index: int, margin: int, frames: dict[int, Gray]) -> Check:
    previous, shot = plan.shots[index - 1], plan.shots[index]
    j = shot.timeline_in
    timeline = _clean_window(plan, index, margin)
    out = run_stats([frames[k] for k in timeline if k in frames])
    source_black, source_frozen = _source_runs(
        previous.segment, shot.segment, frames, j, timeline.start
    )
    # a long crossfade at a high rate holds still where the sources barely do (``crossed``), and
    # its encode holds still longer where the mix barely moves: a crossfade that stays within
    # ``crossed.MIX_NOISE`` of the mix shows the mix, however long it holds; and a transition
    # that hides both shots' bright parts (a wipe between dark shots) draws black frames itself
    # (a cut draws the segments' own frames, whose black their measured edges already say)
    drawn, stray = drawn_runs(previous, shot, timeline, plan.profile, frames)
    drawn_black = 0 if shot.transition.kind == "cut" else drawn.black
    fade = shot.transition.kind == "fade"
    black_bad = not fade and out.black >= 2 and out.black > max(source_black, drawn_black) + 1
    # a fade's dip to black is a run of identical (black) frames too: frozen only beyond it
    dip = out.black if fade else 0
    frozen_bad = out.frozen >= 3 and out.frozen > max(source_frozen, drawn.frozen, dip) + 1
    frozen_bad = frozen_bad and (stray is None or stray > NOISE.get(shot.transition.kind, 0.0))
    return {"shot": shot.shot_id, "frame": j, "black_run": out.black, "frozen_run": out.frozen,
            "source_black_run": source_black, "source_frozen_run": source_frozen,
            "mixed_black_run": drawn_black, "mixed_frozen_run": drawn.frozen,
            "mix_stray": None if stray is None else round(stray, 2),
            "clean": not (black_bad or frozen_bad)}  # fmt: skip


def timeline_frames(plan: EditPlan, files: list[Source], wanted: list[int]) -> dict[int, Gray]:
    """Proxies of timeline frames from the sources they are copied from.

    A segment's edge frames come from the proxies saved when it was normalised (valid while its
    video digest matches, which assembly checks as it copies), a transition window's from those
    saved when it was rendered (valid while its digest, taken now, matches); the rest is decoded.
    """
    digests = {shot.segment.path: shot.segment.video_sha for shot in plan.shots}
    for path, _, _ in files:
        if path not in digests and edges_path(path).is_file():
            digests[path] = file_digest(path)
    found: dict[int, Gray] = {}
    position = 0
    for path, first, last in files:
        here = [t for t in wanted if position <= t < position + last - first]
        local = frame_proxies(
            path, digests.get(path), [t - position + first for t in here], plan.profile.rate
        )
        found |= {position - first + k: frame for k, frame in local.items()}
        position += last - first
    return found


def check_joins(
    plan: EditPlan, path: Path, files: list[Source] | None = None
) -> tuple[Check, Check]:
    """Cuts at the planned joins and no black or frozen run introduced there.

    Frames are decoded from ``path``, or (``files``: what ``path`` was assembled from, packet for
    packet) taken from those sources.
    """
    margin, wanted = _join_frames(plan)
    if files is None:
        frames = _gray_frames(path, wanted, plan.profile.rate)
    else:
        frames = timeline_frames(plan, files, wanted)
    return join_checks(plan, frames, margin)


def check_captioned_joins(
    plan: EditPlan, files: list[Source], picture: list[Source]
) -> tuple[Check, Check, Check]:
    """``check_joins`` for a programme whose captions were drawn into ``files`` over ``picture``
    (the sources before the captions): cuts and clean joins measured on the picture as it was
    cut, where a caption appearing or changing a frame from a join cannot pass for the cut, and
    every frame of ``files`` in the join windows proven the picture's frame of the same index
    (``check_drawn``), so the joins sit in the delivered file where they were measured."""
    margin, wanted = _join_frames(plan)
    under = timeline_frames(plan, picture, wanted)
    cuts, clean = join_checks(plan, under, margin)
    drawn = check_drawn(under, timeline_frames(plan, files, wanted))
    note = {"measured_on": "the picture before the captions were drawn"}
    return cuts | note, clean | note, drawn


def picture_checks(
    plan: EditPlan, path: Path, files: list[Source], under: list[Source] | None = None
) -> dict[str, Check]:
    """``cuts`` and ``joins_clean`` of ``path``, assembled from ``files`` (``check_joins``); with
    ``under``, the sources of the picture that captions were drawn over into ``files``, measured
    there and ``captions_in_place`` added (``check_captioned_joins``)."""
    if under is None:
        cuts, clean = check_joins(plan, path, files)
        return {"cuts": cuts, "joins_clean": clean}
    cuts, clean, drawn = check_captioned_joins(plan, files, under)
    return {"cuts": cuts, "joins_clean": clean, "captions_in_place": drawn}


def _agreement(a: Gray, b: Gray) -> float:
    """Share of the proxies' pixels within ``DRAWN_NOISE`` of each other."""
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16)) <= DRAWN_NOISE))


def check_drawn(under: dict[int, Gray], drawn: dict[int, Gray]) -> Check:
    """Each frame of ``drawn`` (the picture with captions drawn in) is the frame of ``under`` (the
    picture) of the same index: it agrees with it on at least as many pixels as with the frames
    either side (a caption's pixels agree with none of them). A frame dropped or repeated while
    drawing moves the joins after it; a frame next to a cut then agrees with the other shot."""
    displaced = []
    for k in sorted(set(drawn) & set(under)):
        own = _agreement(drawn[k], under[k])
        others = [_agreement(drawn[k], under[n]) for n in (k - 1, k + 1) if n in under]
        if others and max(others) > own + DRAWN_SLACK:
            displaced.append(k)
    missing = sorted(set(under) - set(drawn))
    return {"frames": len(drawn), "displaced": displaced, "missing": missing,
            "passed": not (displaced or missing)}  # fmt: skip


def join_checks(plan: EditPlan, frames: dict[int, Gray], margin: int) -> tuple[Check, Check]:
    """The cut and clean-join checks on proxies of the timeline's join windows."""
    planned = planned_changes(plan)
    cuts = [
        _cut(shot, frames, margin, planned)
        for shot in plan.shots[1:]
        if shot.transition.kind == "cut"
    ]
    clean = [_clean(plan, index, margin, frames) for index in range(1, len(plan.shots))]
    return (
        {"joins": cuts, "passed": not any(c["misplaced"] for c in cuts)},
        {"joins": clean, "passed": all(c["clean"] for c in clean)},
    )


def moov_first(path: Path) -> bool:
    """True when the ``moov`` box comes before ``mdat`` (progressive playback, ``faststart``)."""
    with path.open("rb") as handle:
        while header := handle.read(8):
            if len(header) < 8:
                return False
            size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if kind in (b"moov", b"mdat"):
                return kind == b"moov"
            if size == 1:
                size = int.from_bytes(handle.read(8), "big") - 8
            handle.seek(size - 8, 1)
    return False


def video_keys(path: Path) -> list[PacketKey]:
    with av.open(str(path)) as container:
        return [packet_key(p) for p in container.demux(video=0) if p.size]


def check_same_video(path: Path, reference: Path | list[PacketKey]) -> Check:
    """The output's video packets are byte-identical (with timestamps) to ``reference``'s."""
    ours = video_keys(path)
    theirs = video_keys(reference) if isinstance(reference, Path) else reference
    differing = sum(a != b for a, b in zip(ours, theirs, strict=False)) + abs(
        len(ours) - len(theirs)
    )
    return {"packets": len(ours), "reference_packets": len(theirs), "differing": differing,
            "passed": differing == 0}  # fmt: skip


def _parallel(jobs: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def verify_file(plan: EditPlan, path: Path, reference: Reference | None = None) -> dict[str, Check]:
    """Checks that need only the container and the audio: duration, sync, loudness (from
    ``reference`` when proven the same audio: ``check_loudness``), faststart."""
    results = _parallel(
        {
            "timing": lambda: check_timing(plan, path),
            "loudness": lambda: check_loudness(plan, path, reference),
        }
    )
    duration, sync = results["timing"]
    front = moov_first(path)
    return {
        "duration": duration,
        "av_sync": sync,
        "loudness": results["loudness"],
        "faststart": {"moov_before_mdat": front, "passed": front},
    }


def summarise(checks: dict[str, Check]) -> dict[str, Any]:
    return {"passed": all(c["passed"] for c in checks.values()), "checks": checks}


def verify(plan: EditPlan, path: Path) -> dict[str, Any]:
    """Measure ``path`` against ``plan``: duration, A/V sync, loudness, cuts, clean joins, faststart."""
    results = _parallel(
        {"file": lambda: verify_file(plan, path), "joins": lambda: check_joins(plan, path)}
    )
    cuts, clean = results["joins"]
    return summarise({**results["file"], "cuts": cuts, "joins_clean": clean})


def failures(verification: dict[str, Any]) -> list[str]:
    """One line per failed check with its measured numbers."""
    lines = []
    for name, check in verification["checks"].items():
        if not check["passed"]:
            numbers = {k: v for k, v in check.items() if k != "passed"}
            lines.append(f"{name}: {numbers}")
    return lines
