"""One normalise run, every output: a shot's variants made beside its main segment.

The subject is measured before the shot is normalised, on a small grey decode of the accepted
clip through the very geometry of the normalise run (rate, square pixels, letterbox, held frames:
the frames the crop applies to, 64 px wide). Each variant's crop of the normalised picture then
becomes another output of the one FFmpeg run that normalises the shot, with the variant's
transition windows into its neighbours: one decode of the clip, one audio path (the variant
segments copy the main segment's final AAC), each picture encoded once with the main output's
encoder settings, from the picture before its encode (no second generation). What this run does not
make (it failed, or a caller asks later) ``reframe.reframed`` makes from the main segment.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from foundation.variants import Variant
from media.colour import NORMALISED
from media.errors import FFmpegError
from media.graph import Stream, compile_graph
from media.probe import probe
from media.runner import run_ffmpeg_stdout
from stitching.arrival import SideOutputs
from stitching.chains import source_input, x264_args
from stitching.profile import OutputProfile
from stitching.reframe import crop_of, finish_reframe, record_made, variant_profile
from stitching.segment import Segment, segment_keyframes
from stitching.track import Crop, SubjectTrack, track_of, track_size
from stitching.windows import (
    Neighbour,
    SideJob,
    drop_windows,
    keep_windows,
    normalise_between,
    side_outputs,
    side_windows,
)

__all__ = ["VariantJob", "measure_source", "normalise_fanout"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VariantJob:
    """A variant to make in a shot's normalise run: its segment goes to ``out``; ``before`` and
    ``after`` are the neighbours' segments of the same variant, when made (their windows are
    rendered in the run too, as the main output's are)."""

    variant: Variant
    out: Path
    before: Neighbour | None = None
    after: Neighbour | None = None


def measure_chain(video: Stream, profile: OutputProfile, frames: int) -> Stream:
    """``chains.video_chain``'s geometry (rate, square pixels, letterbox, held last frame,
    ``frames`` frames) at the grey proxy's size (``track.track_size``) straight away: no
    full-size picture is made."""
    small_w, small_h = track_size(profile.width, profile.height)
    return (
        video.filter("fps", fps=str(profile.rate), start_time=0)
        .filter("scale", "trunc(iw*sar/2)*2", "ih")
        .filter("scale", small_w, small_h, force_original_aspect_ratio="decrease", flags="area")
        .filter("pad", small_w, small_h, "(ow-iw)/2", "(oh-ih)/2", color="black")
        .filter("format", "gray")
        .filter("tpad", stop_mode="clone", stop=profile.max_hold_frames + 2)
        .filter("trim", end_frame=frames)
    )  # fmt: skip


def measure_source(src: Path, profile: OutputProfile, frames: int) -> SubjectTrack | None:
    """The subject centre on each of the ``frames`` frames the normalise run will make of
    ``src``, from one small grey decode; None when the clip does not give them all."""
    source = source_input(src, probe(src, read_rotation=False).video_lead_s)
    graph = compile_graph([measure_chain(source["v:0"], profile, frames)])
    small_w, small_h = track_size(profile.width, profile.height)
    try:
        raw = run_ffmpeg_stdout(
            [*graph.inputs, "-filter_complex", graph.text, "-map", graph.labels[0], "-an",
             "-f", "rawvideo", "pipe:1"]
        )  # fmt: skip
    except FFmpegError:
        return None  # no usable picture: normalise names the problem
    if len(raw) != frames * small_w * small_h:
        return None
    grays = np.frombuffer(raw, dtype=np.uint8).reshape(frames, small_h, small_w)
    return track_of(list(grays.astype(np.float64)), profile.width, profile.height)


def variant_chain(video: Stream, target: OutputProfile, crop: Crop) -> Stream:
    """The normalised picture (square pixels, the profile's rate, range, matrix and pixel format,
    exactly its frames) through ``crop`` into ``target``: scaled only when the variant is a size
    other than the crop's, as ``chains.video_chain`` scales it."""
    cropped = video.filter("crop", crop.width, crop.height, crop.x, crop.y)
    if (crop.width, crop.height) == (target.width, target.height):
        return cropped
    w, h = target.width, target.height
    return (
        cropped.filter("scale", w, h, force_original_aspect_ratio="decrease",
                       **NORMALISED.scale_options(), out_range="tv", out_color_matrix="bt709")
        .filter("pad", w, h, "(ow-iw)/2", "(oh-ih)/2", color="black")
        .filter("setsar", 1)
        .filter("format", target.pix_fmt)
    )  # fmt: skip


@dataclass(frozen=True)
class _Planned:
    job: VariantJob
    target: OutputProfile
    video: Path
    windows: list[SideJob]


def _side(planned: _Planned, frames: int, crop: Crop, keyframes: list[int]) -> SideOutputs:
    """The variant's picture (cropped from the normalised one) and its windows, as outputs."""
    target, windows = planned.target, side_outputs(planned.target, planned.windows)

    def pictures(video: Stream) -> list[Stream]:
        picture = variant_chain(video, target, crop)
        if windows is None:
            return [picture]
        own, copy = picture.split(2)
        return [own, *windows.windows(copy)]

    encode = ["-an", *x264_args(target, keyframes), "-f", "mp4", str(planned.video)]
    return SideOutputs(pictures, [encode, *(windows.outputs if windows else [])])


def _plan(
    jobs: Sequence[VariantJob], track: SubjectTrack, profile: OutputProfile, frames: int,
    hints: tuple[int, int],
) -> tuple[list[_Planned], list[SideOutputs]]:  # fmt: skip
    planned, sides = [], []
    for job in jobs:
        target = variant_profile(profile, job.variant)
        crop, record = crop_of(track, job.variant, profile)
        job.out.parent.mkdir(parents=True, exist_ok=True)
        job.out.with_suffix(".track.json").write_text(json.dumps(record), encoding="utf-8")
        video = job.out.with_name(f".{job.out.stem}.{uuid.uuid4().hex[:10]}.video.mp4")
        windows = side_windows(target, frames, job.out, job.before, job.after)
        made = _Planned(job, target, video, windows)
        planned.append(made)
        sides.append(_side(made, frames, crop, segment_keyframes(frames, *hints, target)))
    return planned, sides


def _finish(planned: _Planned, main: Segment, hints: tuple[int, int]) -> Segment:
    segment = finish_reframe(main, hints, planned.target, planned.video, planned.job.out)
    record_made(main, hints, planned.job.variant, planned.job.out, segment)
    keep_windows(planned.target, planned.windows, segment)
    return segment


def normalise_fanout(
    src: Path,
    profile: OutputProfile,
    frames: int,
    out: Path,
    *,
    hints: tuple[int, int],
    sample_offset: int,
    before: Neighbour | None = None,
    after: Neighbour | None = None,
    variants: Sequence[VariantJob] = (),
) -> tuple[Segment, dict[str, Segment]]:
    """``normalise_between``, with every variant of ``variants`` made in the same run: the main
    segment and the variants' segments by label (recorded as ``reframe.reframed`` records them).

    Without variants this is ``normalise_between`` alone. When the subject cannot be measured
    beforehand or the run with the variants fails in FFmpeg, the shot is normalised alone and no
    variant is returned (``reframed`` makes them from the segment).
    """
    track = measure_source(src, profile, frames) if variants else None
    run = partial(normalise_between, src, profile, frames, out, hints=hints,
                  sample_offset=sample_offset, before=before, after=after)  # fmt: skip
    if track is None:
        return run(), {}
    planned, sides = _plan(variants, track, profile, frames, hints)
    try:
        main = run(more=sides)
        with ThreadPoolExecutor(max_workers=2) as pool:
            made = list(pool.map(lambda p: _finish(p, main, hints), planned))
        return main, {
            p.job.variant.label: segment for p, segment in zip(planned, made, strict=True)
        }
    except FFmpegError as exc:
        log.warning("%s: variants not made in the normalise run, reframed after: %s", src, exc)
        return run(), {}
    finally:
        for item in planned:
            item.video.unlink(missing_ok=True)
            drop_windows(item.windows)
