"""Variants: the same edit in other aspect ratios, each shot reframed from its normalised segment.

Every shot's segment (already in the main profile, exact in frames) is measured small
(``track.measure``), given a smooth crop path that follows its subject (``track.crop_path``) and
normalised again through that crop into the variant's profile: same frames, same sample grid,
same transitions. The variant's plan is then assembled and verified like the main output, as
``OUT.<label>.mp4`` with its own sidecars. No provider is asked for anything.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from foundation.variants import Variant
from stitching.assembly import StitchResult, assemble
from stitching.captions import Captions
from stitching.plan import EditPlan, ShotPlan, plan_edit
from stitching.profile import OutputProfile
from stitching.segment import Segment, normalise
from stitching.track import Crop, crop_path, measure, step_expression

__all__ = ["deliver_variants", "reframe_plan", "reframe_segment", "variant_path"]


def variant_path(out: Path, label: str) -> Path:
    """``OUT.mp4`` -> ``OUT.9x16.mp4``: where the variant ``label`` of ``out`` is delivered."""
    return out.with_name(f"{out.stem}.{label}{out.suffix}")


def variant_profile(profile: OutputProfile, variant: Variant) -> OutputProfile:
    return replace(profile, width=variant.width, height=variant.height)


def shot_crop(
    segment: Segment, variant: Variant, profile: OutputProfile
) -> tuple[Crop, dict[str, Any]]:
    """The crop that follows the subject of ``segment``, and the track it was made from."""
    track = measure(segment.path)
    xs = crop_path(track.x, track.frame_width, variant.crop_width, profile.rate)
    ys = crop_path(track.y, track.frame_height, variant.crop_height, profile.rate)
    crop = Crop(variant.crop_width, variant.crop_height, step_expression(xs), step_expression(ys))
    record = {"crop": [variant.crop_width, variant.crop_height], "x": xs, "y": ys,
              "subject_x": [round(v, 1) for v in track.x],
              "subject_y": [round(v, 1) for v in track.y]}  # fmt: skip
    return crop, record


def reframe_segment(
    shot: ShotPlan, next_overlap: int, profile: OutputProfile, variant: Variant, out: Path
) -> Segment:
    """``shot``'s segment through its subject-following crop into ``variant``'s profile, with
    keyframes where the transitions into and out of it will cut (``normalise``'s hints). The
    path is kept beside the segment as ``.track.json``."""
    crop, record = shot_crop(shot.segment, variant, profile)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".track.json").write_text(json.dumps(record), encoding="utf-8")
    return normalise(
        shot.segment.path,
        variant_profile(profile, variant),
        shot.frames,
        out,
        head_frames=shot.transition_frames,
        tail_frames=next_overlap,
        sample_offset=shot.sample_in,
        crop=crop,
    )


def reframe_plan(plan: EditPlan, variant: Variant, work: Path) -> EditPlan:
    """``plan`` with every shot reframed to ``variant`` (segments written under ``work``)."""
    shots = plan.shots
    overlaps = [s.transition_frames for s in shots[1:]] + [0]
    targets = [work / f"{i:03d}-{s.shot_id}.{variant.label}.mp4" for i, s in enumerate(shots)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [
            pool.submit(reframe_segment, shot, overlap, plan.profile, variant, target)
            for shot, overlap, target in zip(shots, overlaps, targets, strict=True)
        ]
        segments = [job.result() for job in jobs]
    items = [(s.shot_id, seg, s.transition) for s, seg in zip(shots, segments, strict=True)]
    return plan_edit(items, variant_profile(plan.profile, variant), music=plan.music)


def deliver_variants(
    plan: EditPlan,
    out: Path,
    variants: list[Variant],
    work: Path,
    *,
    captions: Captions | None = None,
) -> dict[str, StitchResult]:
    """Every variant of the output ``out`` reframed, assembled and verified, by label. Raises
    what ``assemble`` raises (``VerificationError`` naming the variant's file)."""
    results: dict[str, StitchResult] = {}
    for variant in variants:
        reframed = reframe_plan(plan, variant, work / f"variant-{variant.label}")
        results[variant.label] = assemble(
            reframed, variant_path(out, variant.label), captions=captions
        )
    return results
