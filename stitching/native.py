"""A shot rendered natively in a variant's aspect, made into that variant's segment.

The native clip's picture is cut to the variant's exact aspect (a centre crop of at most a few
pixels: the model renders that aspect), normalised into the variant's profile with the main
segment's frames and keyframes, and joined with the main segment's audio (``finish_reframe``: the
programme's sound is the same in every variant). It is recorded as ``variant`` of ``main``
(``record_made``), so ``reframed`` and the variant's stitch find it made and use it instead of a
crop of the main picture.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from foundation.variants import Variant
from media.colour import SourceColour
from media.graph import compile_graph
from media.probe import probe
from media.runner import run_ffmpeg
from stitching.chains import source_input, video_chain, x264_args
from stitching.profile import OutputProfile
from stitching.reframe import finish_reframe, record_made, variant_profile
from stitching.segment import Segment, segment_keyframes

__all__ = ["native_argv", "native_segment"]


def native_argv(
    src: Path,
    target: OutputProfile,
    frames: int,
    keyframes: list[int],
    out: Path,
    video_lead_s: float = 0.0,
    hdr: bool = False,
    colour: SourceColour | None = None,
) -> list[str]:
    """Argv: ``src``'s picture cut to ``target``'s aspect (centred), into ``target``, exactly
    ``frames`` frames (the last one held if the clip is short), video only, from its first
    picture (``segment.source_input``), tone-mapped when ``hdr``, its Y'CbCr read as ``colour``
    says (``chains.video_chain``). Pure."""
    w, h = target.width, target.height
    cut = source_input(src, video_lead_s)["v:0"].filter(
        "crop", f"trunc(min(iw,ih*{w}/{h})/2)*2", f"trunc(min(ih,iw*{h}/{w})/2)*2",
        "(iw-ow)/2", "(ih-oh)/2",
    )  # fmt: skip
    hold = target.max_hold_frames + 2
    graph = compile_graph([video_chain(cut, target, frames, hold, hdr=hdr, colour=colour)])
    return [*graph.inputs, "-filter_complex", graph.text, "-map", graph.labels[0], "-an",
            *x264_args(target, keyframes), "-f", "mp4", str(out)]  # fmt: skip


def native_segment(
    src: Path,
    main: Segment,
    hints: tuple[int, int],
    profile: OutputProfile,
    variant: Variant,
    out: Path,
) -> Segment:
    """The native clip ``src`` as ``variant``'s segment of the shot whose main segment is
    ``main`` (same frames, keyframes where its transitions cut, the main audio), at ``out``."""
    target = variant_profile(profile, variant)
    keyframes = segment_keyframes(main.frames, *hints, target)
    out.parent.mkdir(parents=True, exist_ok=True)
    video = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:10]}.native.mp4")
    try:
        info = probe(src, read_rotation=False)
        argv = native_argv(src, target, main.frames, keyframes, video, info.video_lead_s, info.hdr,
                           info.colour)  # fmt: skip
        run_ffmpeg(argv)
        segment = finish_reframe(main, hints, target, video, out)
    finally:
        video.unlink(missing_ok=True)
    out.with_suffix(".track.json").unlink(missing_ok=True)  # no crop path: not a reframe
    record_made(main, hints, variant, out, segment)
    return segment
