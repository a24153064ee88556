"""The programme's loudness check: integrated loudness and true peak against the output profile,
measured on the file or lent by a file proven to carry the same audio packets, and accepted short
of its target only where the true-peak limiter holds the programme there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av

from stitching.digest import QUICK_PROBE
from stitching.loudness import SILENT_LUFS, measure_file
from stitching.plan import EditPlan
from stitching.video import packet_key

LOUDNESS_TOLERANCE_LU = 1.0

Check = dict[str, Any]


def audio_identity(path: Path) -> tuple[Any, ...]:
    """The audio track of ``path`` as stream parameters plus every packet's timestamps and bytes:
    two files equal here decode to the same samples. (The channel layout is in the extradata,
    AAC's AudioSpecificConfig; the decoder's own layout is unknown until a packet is decoded.)"""
    with av.open(str(path), stream_options=QUICK_PROBE) as container:
        if not container.streams.audio:
            return ()
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        params = (ctx.name, ctx.sample_rate, bytes(ctx.extradata or b""), str(stream.time_base))
        return (params, *(packet_key(p) for p in container.demux(stream) if p.size))


Reference = tuple[Path, Check, str]
"""A file whose audio was measured already (its path, its loudness check, what it is): see
``check_loudness``."""


def check_loudness(plan: EditPlan, path: Path, reference: Reference | None = None) -> Check:
    """The file's integrated loudness and true peak against the profile's. With ``reference``,
    a file whose audio track is proven the same (parameters, timestamps and bytes of every
    packet: ``audio_identity``) gives its measurement instead of a second decode; otherwise,
    or when they differ, ``path`` is measured."""
    if reference is not None and audio_identity(path) == audio_identity(reference[0]):
        numbers = reference[1]
        return judge(plan, numbers["integrated_lufs"], numbers["true_peak_db"]) | {
            "measured_on": f"{reference[2]}: the same audio packets"
        }
    measured = measure_file(path)
    return judge(plan, measured.integrated, measured.true_peak)


def judge(plan: EditPlan, integrated: float, true_peak: float) -> Check:
    profile = plan.profile
    check: Check = {
        "integrated_lufs": integrated,
        "target_lufs": profile.loudness_lufs,
        "true_peak_db": true_peak,
        "true_peak_limit_db": profile.true_peak_db,
    }
    if integrated <= SILENT_LUFS:
        return {**check, "passed": True, "note": "programme is silent; nothing to normalise"}
    within = abs(integrated - profile.loudness_lufs) <= LOUDNESS_TOLERANCE_LU
    return {**check, "passed": within and true_peak <= profile.true_peak_db}


def within_reach(plan: EditPlan, check: Check, reachable_lufs: float | None) -> Check:
    """A loudness ``check`` that missed its target, passed when the programme is as loud as the
    true-peak limiter let it be (``reachable_lufs``, from ``audio.normalise_loudness``): a short
    sound in a long silence cannot reach a loud target under the ceiling, and is delivered as
    loud as it can be, never louder than the target nor over the ceiling."""
    if check["passed"] or reachable_lufs is None:
        return check
    profile, integrated = plan.profile, check["integrated_lufs"]
    check = check | {"reachable_lufs": reachable_lufs}
    short_of_target = integrated < profile.loudness_lufs - LOUDNESS_TOLERANCE_LU
    if not short_of_target or integrated < reachable_lufs - LOUDNESS_TOLERANCE_LU:
        return check
    if check["true_peak_db"] > profile.true_peak_db:
        return check
    return check | {
        "passed": True,
        "note": f"the {profile.true_peak_db:g} dBTP ceiling holds this programme at "
        f"{reachable_lufs:.1f} LUFS: {profile.loudness_lufs:g} LUFS is out of its reach",
    }
