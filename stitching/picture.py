"""The programme's picture for assembly: its video sources (the segments and transition windows
by stream copy when every parameter matches, else one full re-encode) and, with captions burned
in, one file with them drawn over that picture."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

import av

from media.runner import run_ffmpeg
from stitching.burn import burn
from stitching.captions import Cue
from stitching.digest import probe_params
from stitching.errors import PlanError
from stitching.pieces import WindowPiece
from stitching.plan import EditPlan
from stitching.segment import Segment
from stitching.video import SegmentChanged, Source, full_argv, mux, plan_pieces, sources
from stitching.windows import render_windows

log = logging.getLogger(__name__)


def copy_mismatches(segments: list[Segment]) -> list[str]:
    """Parameters on which a segment's file differs from the first one's or from its record.

    Probes the files now (headers only), so a segment replaced since it was normalised is caught.
    Empty: stream copy is safe.
    """
    probed = [_probed(segment) for segment in segments]
    problems = []
    for segment, params in zip(segments, probed, strict=True):
        recorded = segment.copy_params()
        for key, value in params.items():
            if value != probed[0][key]:
                problems.append(f"{segment.path.name}: {key}={value} vs {probed[0][key]}")
            if key in recorded and value != recorded[key]:
                problems.append(f"{segment.path.name}: {key}={value}, recorded {recorded[key]}")
    return problems


def _probed(segment: Segment) -> dict[str, Any]:
    """The segment file's stream parameters; ``SegmentChanged`` when it no longer reads as a
    video (cut short or overwritten since it was normalised)."""
    try:
        return probe_params(segment.path, quick=True)
    except (av.FFmpegError, OSError, IndexError) as exc:  # IndexError: no video stream left
        raise SegmentChanged(
            f"{segment.path}: not the segment that was normalised: {exc}"
        ) from None


def _video_sources(plan: EditPlan, work: Path) -> tuple[list[Source], str]:
    """Stream-copy sources when safe (windows from the cache or rendered), else a full re-encode."""
    segments = [shot.segment for shot in plan.shots]
    problems = copy_mismatches(segments)
    if not problems:
        try:
            pieces = plan_pieces(plan)
            windows = render_windows(plan, [p for p in pieces if isinstance(p, WindowPiece)], work)
            return sources(plan, pieces, windows), "copy"
        except PlanError as exc:
            problems.append(str(exc))
    log.warning("stitching: stream copy refused, re-encoding: %s", "; ".join(problems))
    full = work / "full.mp4"
    run_ffmpeg(full_argv(plan, full))
    return [(full, 0, plan.total_frames)], "reencode"


class Picture(NamedTuple):
    """The programme's video sources, how they were made, and (captions burned in) the sources
    of the picture the captions were drawn over."""

    files: list[Source]
    video_path: str
    under: list[Source] | None = None


def programme_picture(plan: EditPlan, work: Path, cues: list[Cue], burn_in: bool) -> Picture:
    """The programme's video sources; with ``burn_in`` and cues, one file with them drawn in."""
    files, video_path = _video_sources(plan, work)
    if not (burn_in and cues):
        return Picture(files, video_path)
    picture = files[0][0]
    if video_path != "reencode":
        picture = work / "picture.mp4"
        mux(plan, files, None, picture)
    burned, how = burn(plan, picture, cues, work)
    return Picture([(burned, 0, plan.total_frames)], f"{video_path}+captions:{how}", files)
