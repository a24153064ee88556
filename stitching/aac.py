"""AAC in-process (PyAV): encode stretches of PCM on the programme's 1024-sample frame grid.

Every encode starts on a grid point, so its packets land on the same grid as every other encode of
the programme and packets from different encodes can be spliced. A stretch kept from an encode
starts ``PREROLL`` samples after the encode starts and ends ``POSTROLL`` before it stops, so the
encoder has settled on real programme audio on both sides of the kept packets; spliced output
differs from one continuous encode by less than the coding noise (a steady tone splices
bit-exactly).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, TypeAlias

import av
import numpy as np
import numpy.typing as npt

from stitching.profile import OutputProfile

FRAME = 1024
PREROLL = 4 * FRAME
POSTROLL = 2 * FRAME
MIN_CHUNK_SECONDS = 8.0

if TYPE_CHECKING:
    Packet: TypeAlias = av.Packet[Any]


@dataclass(frozen=True)
class Stretch:
    """Programme samples ``[keep_from, keep_to)`` to encode; ``None`` ends mean the programme's."""

    keep_from: int | None
    keep_to: int | None

    def contains(self, sample: int) -> bool:
        return (self.keep_from is None or self.keep_from <= sample) and (
            self.keep_to is None or sample < self.keep_to
        )

    def encode_range(self, total: int) -> tuple[int, int]:
        """Samples fed to the encoder: the kept stretch plus pre- and post-roll, within the programme."""
        start = 0 if self.keep_from is None else max(0, self.keep_from - PREROLL)
        end = total if self.keep_to is None else min(total, self.keep_to + POSTROLL)
        return start, end


def grid_floor(sample: int) -> int:
    return sample // FRAME * FRAME


def grid_ceil(sample: int) -> int:
    return -(-sample // FRAME) * FRAME


def encoder(profile: OutputProfile) -> av.AudioCodecContext:
    context = av.CodecContext.create("aac", "w")
    assert isinstance(context, av.AudioCodecContext)
    context.sample_rate = profile.sample_rate
    context.layout = "stereo"
    context.format = "fltp"
    context.bit_rate = profile.audio_bitrate
    context.time_base = Fraction(1, profile.sample_rate)
    context.options = {"aac_coder": profile.aac_coder}
    context.open()
    return context


def encode(pcm: npt.NDArray[np.float32], start: int, profile: OutputProfile) -> list[Packet]:
    """Encode ``pcm`` (samples x 2) whose first sample is programme sample ``start`` (on the grid).

    Packet timestamps are programme samples; the first packet (pts ``start - 1024``) is the
    encoder's priming frame.
    """
    if start % FRAME:
        raise ValueError(f"an encode must start on the {FRAME}-sample grid, not at {start}")
    context = encoder(profile)
    packets: list[Packet] = []
    planar = np.ascontiguousarray(pcm.T, dtype=np.float32)
    for at in range(0, planar.shape[1], FRAME):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(planar[:, at : at + FRAME]), format="fltp", layout="stereo"
        )
        frame.sample_rate, frame.pts = profile.sample_rate, start + at
        packets += context.encode(frame)
    packets += context.encode(None)
    return packets


def keep(packets: list[Packet], stretch: Stretch) -> list[Packet]:
    """The packets whose (programme) pts falls in the stretch."""
    return [p for p in packets if p.pts is not None and stretch.contains(p.pts) and p.size]


def chunk_bounds(samples: int, sample_rate: int, workers: int) -> list[int]:
    """Split points on AAC frame boundaries; one chunk for short programmes."""
    count = max(1, min(workers, int(samples / sample_rate / MIN_CHUNK_SECONDS)))
    cuts = [round(samples * i / count / FRAME) * FRAME for i in range(1, count)]
    return [0, *cuts, samples]


def split(stretch: Stretch, total: int, sample_rate: int, workers: int) -> list[Stretch]:
    """A long stretch as several (encoded in parallel, spliced by packet)."""
    lo = 0 if stretch.keep_from is None else stretch.keep_from
    hi = total if stretch.keep_to is None else stretch.keep_to
    bounds = [lo + b for b in chunk_bounds(hi - lo, sample_rate, workers)]
    parts = []
    for index in range(len(bounds) - 1):
        first, last = index == 0, index == len(bounds) - 2
        parts.append(
            Stretch(
                stretch.keep_from if first else bounds[index],
                stretch.keep_to if last else bounds[index + 1],
            )
        )
    return parts


def encode_stretches(
    pcm_of: Callable[[int, int], npt.NDArray[np.float32]],
    stretches: list[Stretch],
    total: int,
    profile: OutputProfile,
    workers: int = 2,
) -> list[Packet]:
    """Encode every stretch (``pcm_of(lo, hi)`` gives programme PCM) in parallel; kept packets."""
    parts = [p for s in stretches for p in split(s, total, profile.sample_rate, workers)]

    def one(part: Stretch) -> list[Packet]:
        lo, hi = part.encode_range(total)
        return keep(encode(pcm_of(lo, hi), lo, profile), part)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, parts))
    return [packet for packets in results for packet in packets]
