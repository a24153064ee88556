"""Stitcher: frame-exact edit plans, normalise-on-arrival, stream-copy assembly, verified output."""

from stitching.assembly import (
    StitchResult,
    assemble,
    copy_mismatches,
    keyframe_hints,
    output_files,
    sample_offsets,
    stitch,
)
from stitching.audio import music_problem
from stitching.burn import renderers as caption_renderers
from stitching.captions import Captions, Cue
from stitching.errors import ClipError, PlanError, StitchError, VerificationError
from stitching.fanout import VariantJob, normalise_fanout
from stitching.native import native_segment
from stitching.plan import EditPlan, MusicBed, ShotPlan, plan_edit
from stitching.profile import OutputProfile
from stitching.reframe import (
    deliver_variants,
    made_segment,
    reframed,
    variant_path,
    variant_profile,
    variant_segment_path,
)
from stitching.segment import Segment, normalise
from stitching.verify import verify
from stitching.voiceover import overlay_argv
from stitching.windows import normalise_between, prerender

__all__ = [
    "Captions",
    "ClipError",
    "Cue",
    "EditPlan",
    "MusicBed",
    "OutputProfile",
    "PlanError",
    "Segment",
    "ShotPlan",
    "StitchError",
    "StitchResult",
    "VariantJob",
    "VerificationError",
    "assemble",
    "caption_renderers",
    "copy_mismatches",
    "deliver_variants",
    "keyframe_hints",
    "made_segment",
    "music_problem",
    "native_segment",
    "normalise",
    "normalise_between",
    "normalise_fanout",
    "output_files",
    "overlay_argv",
    "plan_edit",
    "prerender",
    "reframed",
    "sample_offsets",
    "stitch",
    "variant_path",
    "variant_profile",
    "variant_segment_path",
    "verify",
]
