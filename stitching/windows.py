"""Transition windows as files of their own, cached beside the shot they lead into.

A window depends only on the two segments it joins (their video digests), the transition and the
encoder settings, so it is made as soon as both neighbours exist: in the FFmpeg run that
normalises the later of the two (``normalise_between``), or by ``prerender``. Assembly then only
copies it; windows still missing are rendered there, one FFmpeg per window, one more at a time
than the cores. Each cached window keeps grey proxies of its frames for the join checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av

from foundation.storyboard import Transition
from media.graph import Stream, open_input
from media.runner import run_ffmpeg
from stitching.arrival import SideOutputs, combine
from stitching.blend import transition_chain
from stitching.chains import window_x264_args
from stitching.digest import QUICK_PROBE, extradata_sha, file_digest
from stitching.edges import edges_path, save_edges
from stitching.errors import PlanError
from stitching.pieces import WindowPiece
from stitching.plan import EditPlan, plan_edit
from stitching.profile import OutputProfile
from stitching.segment import Segment, normalise
from stitching.video import plan_pieces, seek_to, windows_argv

CACHE_DIR = "windows"
# one FFmpeg per window, each on one thread: one more than the cores, so that the last window of a
# round does not leave a core idle (five windows on two cores: 1.27 s against 1.40 s in pairs)
WINDOW_RENDERS = (os.cpu_count() or 1) + 1
# part of every window's cache key, raised when a window's picture changes (2: a crossfade is an
# alpha overlay, ``stitching/blend.py``), so that no window made before is copied into an output
WINDOW_PICTURE = 2


def window_path(plan: EditPlan, window: WindowPiece) -> Path | None:
    """Where the window is cached; None when a segment carries no digest (nothing to key on)."""
    shot = plan.shots[window.shot]
    previous = plan.shots[window.shot - 1].segment.video_sha if window.shot else "-"
    if not shot.segment.video_sha or not previous:
        return None
    settings = {k: v for k, v in plan.profile.to_dict().items() if "loudness" not in k}
    key = json.dumps(
        [previous, shot.segment.video_sha, str(shot.transition), window.prev_from,
         window.head_to, window.overlap, settings, WINDOW_PICTURE],
        sort_keys=True, default=str,
    )  # fmt: skip
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return shot.segment.path.parent / CACHE_DIR / f"{digest}.mp4"


def _render(plan: EditPlan, window: WindowPiece, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:8]}.mp4")
    try:
        run_ffmpeg(windows_argv(plan, [window], tmp))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    _save_proxies(out, window.frames, plan.profile)
    return out


def _save_proxies(window: Path, frames: int, profile: OutputProfile) -> None:
    save_edges(window, frames, profile.rate, frames, edges_path(window), file_digest(window))


def _usable(path: Path, plan: EditPlan, frames: int) -> bool:
    """Whether a window file can go between the plan's segments: their encoder parameters and
    the window's ``frames`` (a crossfade made ahead, beside a normalise, came out one frame
    short at 112.686 fps, and the programme two frames short of its plan)."""
    try:
        with av.open(str(path), stream_options=QUICK_PROBE) as container:
            video = container.streams.video[0]
            if extradata_sha(video) != plan.shots[0].segment.extradata_sha:
                return False
            return sum(1 for packet in container.demux(video) if packet.size) == frames
    except Exception:
        return False


def render_windows(plan: EditPlan, windows: list[WindowPiece], work: Path) -> dict[int, Path]:
    """Each window's file (by the shot it leads into): from the cache, else rendered now.

    Raises ``PlanError`` when a freshly rendered window's encoder parameters differ from the
    segments' (it could not be stream-copied between them); a bad cache entry is rendered again.
    """
    found: dict[int, Path] = {}
    missing: list[tuple[WindowPiece, Path]] = []
    for window in windows:
        cached = window_path(plan, window)
        if cached is not None and cached.is_file() and _usable(cached, plan, window.frames):
            found[window.shot] = cached
        else:
            missing.append((window, cached or work / f"window-{window.shot}.mp4"))
    with ThreadPoolExecutor(max_workers=WINDOW_RENDERS) as pool:
        rendered = pool.map(lambda job: _render(plan, *job), missing)
        found |= {window.shot: path for (window, _), path in zip(missing, rendered, strict=True)}
    for window, _ in missing:
        if not _usable(found[window.shot], plan, window.frames):
            raise PlanError(f"window into shot {window.shot}: encoder parameters or frames differ")
    return found


def prerender(
    profile: OutputProfile,
    run: list[tuple[str, Segment, Transition]],
    work: Path,
    *,
    starts_edit: bool,
) -> list[Path]:
    """Render (into the cache) the windows of a run of consecutive normalised shots.

    ``run`` lists neighbours as they sit in the full edit, each with the transition into it. The
    window into the run's first shot is rendered only when the run ``starts_edit`` (a fade in
    from black); its other neighbour is not in the run.
    """
    if not starts_edit:
        run = [(run[0][0], run[0][1], Transition.parse("cut")), *run[1:]]
    plan = plan_edit(run, profile)
    windows = [p for p in plan_pieces(plan) if isinstance(p, WindowPiece)]
    return list(render_windows(plan, windows, work).values())


Neighbour = tuple[Segment, Transition]


def _predict_in(profile: OutputProfile, prev: Segment, into: Transition) -> WindowPiece:
    overlap = profile.transition_frames(into)
    before = [k for k in prev.keyframes if k <= prev.frames - overlap]
    return WindowPiece(1, max(before), overlap, overlap, prev.frames)


def _predict_out(
    profile: OutputProfile, frames: int, nxt: Segment, into: Transition
) -> WindowPiece:
    overlap = profile.transition_frames(into)
    after = [k for k in nxt.keyframes if k >= overlap]
    return WindowPiece(1, frames - overlap, min(after) if after else nxt.frames, overlap, frames)


@dataclass(frozen=True)
class _SideWindow:
    label: str
    piece: WindowPiece
    transition: Transition
    path: Path


def _side(profile: OutputProfile, jobs: list[tuple[_SideWindow, Segment, bool]]) -> SideOutputs:
    """Windows rendered in the normalise run: ``(window, neighbour, neighbour_is_before)``."""
    rate = profile.rate
    outputs = [
        ["-an", *window_x264_args(profile), "-frames:v", str(window.piece.frames), "-f", "mp4",
         str(window.path)]
        for window, _, _ in jobs
    ]  # fmt: skip

    def windows(video: Stream) -> list[Stream]:
        made: list[Stream] = []
        copies = video.split(len(jobs))
        for (window, neighbour, before), this in zip(jobs, copies, strict=True):
            piece = window.piece
            if before:
                seeking = seek_to(piece.prev_from, rate)
                other = open_input(str(neighbour.path), threads=1, **seeking)["v"]
                prev = other.filter("trim", end_frame=piece.prev_frames - piece.prev_from)
                head = this
            else:
                other = open_input(
                    str(neighbour.path), threads=1, t=f"{float((piece.head_to + 1) / rate):.6f}"
                )["v"]
                prev, head = this.filter("trim", start_frame=piece.prev_from), other
            chain = transition_chain(prev, head, piece, window.transition.kind, profile)
            made.append(chain.filter("format", profile.pix_fmt))
        return made

    def proxies() -> None:
        for window, _, _ in jobs:
            _save_proxies(window.path, window.piece.frames, profile)

    return SideOutputs(windows, outputs, proxies)


def _keep(
    profile: OutputProfile, pair: list[tuple[str, Segment, Transition]], made: _SideWindow
) -> None:
    """Cache a window made in the normalise run if the encoded pair has the predicted geometry."""
    plan = plan_edit(pair, profile)
    real = [p for p in plan_pieces(plan) if isinstance(p, WindowPiece)]
    target = window_path(plan, real[0]) if real else None
    if target is None or real[0] != made.piece or not made.path.is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    measured = edges_path(made.path)
    os.replace(made.path, target)
    if measured.is_file():  # measured as the run finished (``_side``)
        os.replace(measured, edges_path(target))
    else:
        _save_proxies(target, made.piece.frames, profile)


SideJob = tuple[_SideWindow, Segment, bool]


def side_windows(
    profile: OutputProfile,
    frames: int,
    out: Path,
    before: Neighbour | None,
    after: Neighbour | None,
) -> list[SideJob]:
    """The transition windows joining a clip about to be normalised to ``out`` (``frames`` long,
    in ``profile``) to its neighbours already normalised, to render in the same run."""
    token = uuid.uuid4().hex[:8]
    jobs: list[SideJob] = []
    if before is not None and before[1].kind != "cut":
        piece = _predict_in(profile, before[0], before[1])
        path = out.with_name(f".{out.stem}.{token}.in.mp4")
        jobs.append((_SideWindow("win_in", piece, before[1], path), before[0], True))
    if after is not None and after[1].kind != "cut":
        piece = _predict_out(profile, frames, after[0], after[1])
        path = out.with_name(f".{out.stem}.{token}.out.mp4")
        jobs.append((_SideWindow("win_out", piece, after[1], path), after[0], False))
    return jobs


def side_outputs(profile: OutputProfile, jobs: list[SideJob]) -> SideOutputs | None:
    return _side(profile, jobs) if jobs else None


def keep_windows(profile: OutputProfile, jobs: list[SideJob], segment: Segment) -> None:
    """Cache the windows ``jobs`` rendered beside ``segment`` (``side_windows``)."""
    cut = Transition.parse("cut")
    for window, neighbour, is_before in jobs:
        pair = (
            [("prev", neighbour, cut), ("this", segment, window.transition)] if is_before
            else [("this", segment, cut), ("next", neighbour, window.transition)]
        )  # fmt: skip
        _keep(profile, pair, window)


def drop_windows(jobs: list[SideJob]) -> None:
    for window, _, _ in jobs:
        window.path.unlink(missing_ok=True)
        edges_path(window.path).unlink(missing_ok=True)


def normalise_between(
    src: Path,
    profile: OutputProfile,
    frames: int,
    out: Path,
    *,
    hints: tuple[int, int],
    sample_offset: int,
    before: Neighbour | None = None,
    after: Neighbour | None = None,
    more: Sequence[SideOutputs] = (),
) -> Segment:
    """``normalise`` a clip and, in the same FFmpeg run, the transition windows joining it to
    neighbours already normalised: ``before`` is (previous segment, transition into this shot),
    ``after`` (next segment, transition into it). Those windows are then only copied. ``more``
    adds other outputs of the normalised picture to the run (a variant's picture: ``fanout``)."""
    jobs = side_windows(profile, frames, out, before, after)
    own = side_outputs(profile, jobs)
    side = combine([*([own] if own else []), *more])
    try:
        segment = normalise(src, profile, frames, out, head_frames=hints[0],
                            tail_frames=hints[1], sample_offset=sample_offset, side=side)  # fmt: skip
        keep_windows(profile, jobs, segment)
        return segment
    finally:
        drop_windows(jobs)
