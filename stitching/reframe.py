"""Variants: the same edit in other aspect ratios, each shot reframed from its normalised segment.

Every shot's segment (already in the main profile, exact in frames) is measured small
(``track.measure``), given a smooth crop path that follows its subject (``track.crop_path``) and
normalised again through that crop into the variant's profile: same frames, same sample grid,
same transitions. The variant's plan is then assembled and verified like the main output, as
``OUT.<label>.mp4`` with its own sidecars. No provider is asked for anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import av

from foundation.variants import Variant
from media.colour import NORMALISED
from media.graph import compile_graph, open_input
from media.runner import run_ffmpeg
from stitching.assembly import StitchResult, assemble
from stitching.captions import Captions
from stitching.chains import video_chain, x264_args
from stitching.digest import scan_segment
from stitching.edges import edges_path, save_edges
from stitching.errors import ClipError
from stitching.plan import EditPlan, ShotPlan, plan_edit
from stitching.profile import OutputProfile
from stitching.segment import Segment, segment_keyframes
from stitching.thumbs import thumb_path, write_thumb
from stitching.track import Crop, SubjectTrack, crop_path, measure, step_expression

__all__ = [
    "deliver_variants", "made_segment", "reframe_plan", "reframe_segment", "reframed",
    "variant_path", "variant_profile", "variant_segment_path",
]  # fmt: skip


def variant_path(out: Path, label: str) -> Path:
    """``OUT.mp4`` -> ``OUT.9x16.mp4``: where the variant ``label`` of ``out`` is delivered."""
    return out.with_name(f"{out.stem}.{label}{out.suffix}")


def variant_profile(profile: OutputProfile, variant: Variant) -> OutputProfile:
    return replace(profile, width=variant.width, height=variant.height)


def shot_crop(
    segment: Segment, variant: Variant, profile: OutputProfile
) -> tuple[Crop, dict[str, Any]]:
    """The crop that follows the subject of ``segment``, and the track it was made from."""
    track = measure(segment.path, segment.width, segment.height, segment.frames)
    return crop_of(track, variant, profile)


def crop_of(
    track: SubjectTrack, variant: Variant, profile: OutputProfile
) -> tuple[Crop, dict[str, Any]]:
    """The crop of ``variant`` following ``track``, and its record (``.track.json``)."""
    xs = crop_path(track.x, track.frame_width, variant.crop_width, profile.rate)
    ys = crop_path(track.y, track.frame_height, variant.crop_height, profile.rate)
    crop = Crop(variant.crop_width, variant.crop_height, step_expression(xs), step_expression(ys))
    record = {"crop": [variant.crop_width, variant.crop_height], "x": xs, "y": ys,
              "subject_x": [round(v, 1) for v in track.x],
              "subject_y": [round(v, 1) for v in track.y]}  # fmt: skip
    return crop, record


def reframe_argv(
    src: Path, profile: OutputProfile, frames: int, crop: Crop, keyframes: list[int], out: Path
) -> list[str]:
    """Argv: a segment's picture (BT.709, limited range) through ``crop`` into ``profile``
    (video only). Pure."""
    video = video_chain(open_input(str(src))["v:0"], profile, frames, 0, crop, colour=NORMALISED)
    graph = compile_graph([video])
    return [*graph.inputs, "-filter_complex", graph.text, "-map", graph.labels[0], "-an",
            *x264_args(profile, keyframes), "-f", "mp4", str(out)]  # fmt: skip


def with_audio_of(video: Path, source: Path, out: Path) -> None:
    """``video``'s packets and ``source``'s audio packets, copied into one MP4 in time order."""
    with av.open(str(video)) as pic, av.open(str(source)) as snd, av.open(str(out), "w") as muxed:
        streams = (pic.streams.video[0], snd.streams.audio[0])
        outputs = [muxed.add_stream_from_template(stream) for stream in streams]
        for template, output in zip(streams, outputs, strict=True):
            output.time_base = template.time_base
        packets = [
            (packet.dts * packet.time_base, index, packet)
            for index, (container, stream) in enumerate(zip((pic, snd), streams, strict=True))
            for packet in container.demux(stream)
            if packet.dts is not None and packet.time_base is not None
        ]
        for _, index, packet in sorted(packets, key=lambda item: (item[0], item[1])):
            packet.stream = outputs[index]
            muxed.mux(packet)


def reframe_segment(
    main: Segment, hints: tuple[int, int], profile: OutputProfile, variant: Variant, out: Path
) -> Segment:
    """Segment ``main`` through its subject-following crop into ``variant``'s profile, with
    keyframes where the transitions into and out of it will cut (``hints``, as ``normalise``).
    Its audio is the shot's own, copied: final already, on the programme's sample grid (its PCM
    sidecar is shared). The crop path is kept beside the segment as ``.track.json``."""
    target, frames = variant_profile(profile, variant), main.frames
    crop, record = shot_crop(main, variant, profile)
    keyframes = segment_keyframes(frames, *hints, target)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".track.json").write_text(json.dumps(record), encoding="utf-8")
    video = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:10]}.video.mp4")
    try:
        run_ffmpeg(reframe_argv(main.path, target, frames, crop, keyframes, video))
        return finish_reframe(main, hints, target, video, out)
    finally:
        video.unlink(missing_ok=True)


def finish_reframe(
    main: Segment, hints: tuple[int, int], target: OutputProfile, video: Path, out: Path
) -> Segment:
    """A variant's encoded picture ``video`` of ``main`` -> its segment at ``out``: ``main``'s
    audio packets copied in, measured (frames, keyframes, digest, edge proxies, thumbnail)."""
    frames = main.frames
    muxed = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:10]}.mp4")
    try:
        with_audio_of(video, main.path, muxed)
        scan = scan_segment(muxed, target)
        if scan["frames"] != frames:
            raise ClipError(f"{out}: reframed to {scan['frames']} frames, needs {frames}")
        edge = max(hints) + target.verify_margin + 2
        head, tail = save_edges(muxed, frames, target.rate, edge, edges_path(out),
                                scan["video_sha"])  # fmt: skip
        lo, hi = hints[0], max(hints[0] + 1, frames - hints[1])
        thumb = write_thumb(muxed, scan["keyframes"], lo, hi, target, thumb_path(out))
        os.replace(muxed, out)
    finally:
        muxed.unlink(missing_ok=True)
    return replace(
        main, path=out, held_frames=0, edge_frames=min(edge, frames),
        head_black=head.black, head_frozen=head.frozen, tail_black=tail.black,
        tail_frozen=tail.frozen, thumb_frame=thumb, **scan,
    )  # fmt: skip


def variant_segment_path(work: Path, shot_id: str, label: str) -> Path:
    """Where shot ``shot_id``'s segment of variant ``label`` is kept under a job's ``work``."""
    return work / f"variant-{label}" / f"segment-{shot_id}.mp4"


def made_segment(out: Path) -> Segment | None:
    """The reframed segment recorded at ``out`` (``reframed``), if it is there."""
    record = out.with_suffix(".segment.json")
    if not record.is_file():
        return None
    segment = Segment.from_dict(json.loads(record.read_text(encoding="utf-8"))["segment"])
    return segment if segment.path.is_file() else None


def _made_key(main: Segment, hints: tuple[int, int], variant: Variant) -> str:
    made_from = json.dumps([main.to_dict(), list(hints), str(variant)], sort_keys=True)
    return hashlib.sha256(made_from.encode()).hexdigest()[:24]


def record_made(
    main: Segment, hints: tuple[int, int], variant: Variant, out: Path, segment: Segment
) -> None:
    """Record ``segment`` (at ``out``) as ``variant`` of ``main`` with ``hints``: ``reframed``
    then finds it made."""
    record = out.with_suffix(".segment.json")
    temporary = record.with_name(f".{record.name}.{uuid.uuid4().hex[:8]}")
    data = {"key": _made_key(main, hints, variant), "segment": segment.to_dict()}
    temporary.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temporary, record)


def reframed(
    main: Segment, hints: tuple[int, int], profile: OutputProfile, variant: Variant, out: Path
) -> Segment:
    """``reframe_segment``, reusing the segment at ``out`` when it was made from this very
    ``main`` segment with the same hints and variant (the pipeline makes it in the shot's
    normalise run, ``fanout``; stitching then finds it made). Its record is ``out``'s
    ``.segment.json``."""
    record = out.with_suffix(".segment.json")
    key = _made_key(main, hints, variant)
    if record.is_file() and json.loads(record.read_text(encoding="utf-8")).get("key") == key:
        made = made_segment(out)
        if made is not None:
            return made
    segment = reframe_segment(main, hints, profile, variant, out)
    record_made(main, hints, variant, out, segment)
    return segment


def reframe_plan(plan: EditPlan, variant: Variant, work: Path) -> EditPlan:
    """``plan`` with every shot reframed to ``variant`` (segments kept under ``work``)."""
    shots = plan.shots
    hints = [
        (s.transition_frames, after) for s, after in zip(shots, _overlaps_after(shots), strict=True)
    ]
    targets = [variant_segment_path(work, s.shot_id, variant.label) for s in shots]
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [
            pool.submit(reframed, shot.segment, hint, plan.profile, variant, target)
            for shot, hint, target in zip(shots, hints, targets, strict=True)
        ]
        segments = [job.result() for job in jobs]
    items = [(s.shot_id, seg, s.transition) for s, seg in zip(shots, segments, strict=True)]
    return plan_edit(items, variant_profile(plan.profile, variant), music=plan.music)


def _overlaps_after(shots: tuple[ShotPlan, ...]) -> list[int]:
    return [s.transition_frames for s in shots[1:]] + [0]


def deliver_variants(
    plan: EditPlan,
    out: Path,
    variants: list[Variant],
    work: Path,
    *,
    captions: Captions | None = None,
    main: StitchResult | None = None,
) -> dict[str, StitchResult]:
    """Every variant of the output ``out`` reframed, assembled and verified, by label, two at a
    time. ``main``, the main output already delivered, lends its loudness measurement to a variant
    whose audio is proven the same packets (``assemble``'s ``audio_of``). Raises what
    ``assemble`` raises (``VerificationError`` naming the variant's file)."""

    def deliver(variant: Variant) -> StitchResult:
        reframed_plan = reframe_plan(plan, variant, work)
        path = variant_path(out, variant.label)
        return assemble(reframed_plan, path, captions=captions, audio_of=main)

    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [(variant.label, pool.submit(deliver, variant)) for variant in variants]
        return {label: job.result() for label, job in jobs}
