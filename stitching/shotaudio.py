"""A shot's audio made final on arrival: loudness to the target, true peak limited, AAC on the grid.

Each shot is brought to the profile's loudness (the boost capped at ``max_shot_gain_db`` so room tone
is not pumped up) and limited if the gain pushes its true peak over the ceiling. The result is
written back to the segment's PCM sidecar and encoded once to AAC on the programme's 1024-sample
grid, starting at the segment's planned sample offset: the assembler copies those packets and
encodes only short stretches around the joins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from stitching import aac
from stitching.loudness import PEAK_HEADROOM_DB, Loudness, limit, measure_pcm
from stitching.profile import OutputProfile

if TYPE_CHECKING:
    from stitching.aac import Packet


@dataclass(frozen=True)
class ShotAudio:
    """What was done to a shot's audio; ``final_lufs`` is None for a silent shot."""

    source_lufs: float | None
    gain_db: float
    final_lufs: float | None
    limited: bool


def shot_gain(measured: Loudness, profile: OutputProfile) -> float:
    if measured.silent:
        return 0.0
    return min(profile.max_shot_gain_db, profile.loudness_lufs - measured.integrated)


def finalise(
    pcm_path: Path, measured: Loudness, profile: OutputProfile, sample_offset: int
) -> tuple[ShotAudio, list[Packet]]:
    """Gain (and limit) the sidecar in place; AAC packets with pts relative to the segment start.

    ``sample_offset`` is the programme sample where the segment is planned to start; the encode
    starts on the grid point at or before it (silence in between, trimmed by the MP4 edit list).
    """
    pcm = np.fromfile(pcm_path, dtype=np.float32).reshape(-1, 2)
    gain = shot_gain(measured, profile)
    limited = False
    if gain:
        pcm = (pcm * np.float32(10 ** (gain / 20))).astype(np.float32)
        ceiling = profile.true_peak_db - PEAK_HEADROOM_DB
        if measured.true_peak + gain > ceiling:
            pcm, limited = limit(pcm, ceiling, profile.sample_rate), True
        pcm.tofile(pcm_path)
    final: float | None = None
    if not measured.silent:
        after = measure_pcm(pcm, profile.sample_rate) if limited else None
        final = after.integrated if after is not None else measured.integrated + gain
    start = aac.grid_floor(sample_offset)
    lead = np.zeros((sample_offset - start, 2), dtype=np.float32)
    packets = aac.encode(np.concatenate([lead, pcm]), start, profile)
    for packet in packets:
        assert packet.pts is not None
        packet.pts -= sample_offset
        packet.dts = packet.pts
    info = ShotAudio(
        None if measured.silent else measured.integrated, round(gain, 2), final, limited
    )
    return info, packets
