"""Loudness in-process (ITU-R BS.1770-4 / EBU R128), kept as 100 ms sub-block sums on the
programme's sample grid, so a programme's integrated loudness and true peak can be put together
from the pieces it is copied from.

The K-weighting (the two biquads of BS.1770, designed for any rate with the formulas of
libebur128, which FFmpeg's ``ebur128`` uses too) is applied as the filter's impulse response,
truncated where it has decayed below 1e-16 of its start, by FFT convolution: the same output as
running the recursive filter, to double precision. A 400 ms gating block is four consecutive
sub-blocks (75 % overlap), so the energy of every block of a programme follows from the energy of
its sub-blocks; energies of disjoint sample ranges add. True peak is the limiter's 4x oversampled
estimate (``loudness.true_peaks``), kept as the maximum per sub-block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from stitching.digest import QUICK_PROBE, video_digest
from stitching.loudness import true_peaks
from stitching.saved import read_npz, write_npz

Energy = npt.NDArray[np.float64]
Pcm = npt.NDArray[np.float32]
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = 10.0
SILENCE = -70.0  # what FFmpeg's ebur128 reports for a programme with no block over the gate
SUB_BLOCKS = 4  # a 400 ms block is four 100 ms sub-blocks
PEAK_REACH = 16  # samples either side that ``true_peaks`` reads (its 8 taps, with room)


def hop(sample_rate: int) -> int:
    """Samples in a 100 ms sub-block (the gating blocks' step)."""
    if sample_rate % 10:
        raise ValueError(f"sample rate {sample_rate} has no whole 100 ms step")
    return sample_rate // 10


def _biquads(sample_rate: int) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
    """K-weighting: the high shelf, then the RLB high-pass (libebur128's design)."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = (
        (vh + vb * k / q + k * k) / a0,
        2 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
    )
    shelf_a = (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate)
    a0 = 1 + k / q + k * k
    high_a = (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)
    return [(shelf_b, shelf_a), ((1.0, -2.0, 1.0), high_a)]


def settle(sample_rate: int) -> int:
    """Samples after which the K-filter's memory of what came before is below 1e-16 of it."""
    slowest = max(math.sqrt(a[2]) for _, a in _biquads(sample_rate))
    return math.ceil(math.log(1e-16) / math.log(slowest)) + 16


@lru_cache(maxsize=8)
def k_response(sample_rate: int) -> Energy:
    """The K-weighting's impulse response, ``settle(sample_rate)`` samples long."""
    length = settle(sample_rate)
    signal = [0.0] * length
    signal[0] = 1.0
    for b, a in _biquads(sample_rate):
        out, x1, x2, y1, y2 = [], 0.0, 0.0, 0.0, 0.0
        for x in signal:
            y = b[0] * x + b[1] * x1 + b[2] * x2 - a[1] * y1 - a[2] * y2
            out.append(y)
            x1, x2, y1, y2 = x, x1, y, y1
        signal = out
    return np.asarray(signal, dtype=np.float64)


def fft_size(n: int) -> int:
    """The smallest product of 2s, 3s and 5s at least ``n`` (sizes the FFT is fast at)."""
    best = 1 << max(0, (n - 1).bit_length())
    fives = 1
    while fives < best:
        threes = fives
        while threes < best:
            size = threes << max(0, (-(-n // threes) - 1).bit_length())
            best = min(best, size)
            threes *= 3
        fives *= 5
    return best


def k_weighted(pcm: npt.NDArray[np.float32], sample_rate: int) -> Energy:
    """``pcm`` (samples x channels) through the K-weighting, starting from rest."""
    response = k_response(sample_rate)
    size = fft_size(len(pcm) + len(response) - 1)
    spectrum = np.fft.rfft(response, size)
    out = np.fft.irfft(np.fft.rfft(pcm.astype(np.float64), size, axis=0) * spectrum[:, None],
                       size, axis=0)  # fmt: skip
    result: Energy = out[: len(pcm)]
    return result


@dataclass(frozen=True)
class SubBlocks:
    """Sub-blocks ``first, first + 1, ...`` of a programme (sub-block ``k`` holds programme samples
    ``[k * hop, (k + 1) * hop)``): the sum over channels of the K-weighted samples squared, and the
    largest oversampled peak."""

    first: int
    energy: Energy
    peak: npt.NDArray[np.float32]

    @property
    def end(self) -> int:
        return self.first + len(self.energy)

    def between(self, lo: int, hi: int) -> SubBlocks:
        """Only sub-blocks ``[lo, hi)`` (clipped to these)."""
        lo, hi = max(lo, self.first), min(hi, self.end)
        if hi <= lo:
            return SubBlocks(lo, np.zeros(0), np.zeros(0, dtype=np.float32))
        part = slice(lo - self.first, hi - self.first)
        return SubBlocks(lo, self.energy[part], self.peak[part])


def sub_blocks(
    pcm: npt.NDArray[np.float32], start: int, sample_rate: int, *, ends: bool = False
) -> SubBlocks:
    """The whole sub-blocks of ``pcm`` (samples x channels), whose first sample is programme
    sample ``start``, K-weighted from rest at ``start`` (a caller trusts only the sub-blocks at
    least ``settle`` samples after a point where the input matches the programme's). ``ends``:
    the programme ends with ``pcm``, and a last partial sub-block is kept too (``integrated``
    counts whole blocks only)."""
    step = hop(sample_rate)
    first = -(-start // step)
    lo = first * step - start
    whole = max(0, (len(pcm) - lo) // step)
    count = whole + (1 if ends and lo + whole * step < len(pcm) else 0)
    if count <= 0:
        return SubBlocks(first, np.zeros(0), np.zeros(0, dtype=np.float32))
    size = count * step
    heard = min(size, len(pcm) - lo)
    weighted = np.zeros((size, pcm.shape[1]))
    weighted[:heard] = k_weighted(pcm, sample_rate)[lo : lo + heard]
    peaks = np.zeros(size, dtype=np.float32)
    around = max(0, lo - PEAK_REACH), min(len(pcm), lo + heard + PEAK_REACH)
    near = np.ascontiguousarray(pcm[around[0] : around[1]], dtype=np.float32)
    peaks[:heard] = true_peaks(near)[lo - around[0] : lo - around[0] + heard]
    energy = np.square(weighted).sum(axis=1).reshape(count, step).sum(axis=1)
    return SubBlocks(first, energy, peaks.reshape(count, step).max(axis=1))


def integrated(energy: Energy, sample_rate: int) -> float:
    """Gated integrated loudness (LUFS) of a programme from all its sub-blocks from its start
    (only whole 400 ms blocks count; ``SILENCE`` when none passes the absolute gate)."""
    if len(energy) < SUB_BLOCKS:
        return SILENCE
    sums = np.convolve(energy, np.ones(SUB_BLOCKS), mode="valid")
    power = sums / (SUB_BLOCKS * hop(sample_rate))
    with np.errstate(divide="ignore"):
        loudness = -0.691 + 10 * np.log10(power)
    gated = power[loudness > ABSOLUTE_GATE]
    if not len(gated):
        return SILENCE
    threshold = -0.691 + 10 * math.log10(float(gated.mean())) - RELATIVE_GATE
    kept = power[loudness > max(threshold, ABSOLUTE_GATE)]
    return -0.691 + 10 * math.log10(float(kept.mean()))


def peak_db(peak: npt.NDArray[np.float32]) -> float:
    top = float(peak.max()) if len(peak) else 0.0
    return 20 * math.log10(top) if top > 0 else -math.inf


def save(blocks: SubBlocks, out: Path, digest: str, sample_rate: int, offset: int) -> None:
    """Keep ``blocks`` of audio whose packet digest is ``digest``, measured as if it started at
    programme sample ``offset``."""
    write_npz(out, first=np.array(blocks.first), energy=blocks.energy, peak=blocks.peak,
              digest=np.array(digest), rate=np.array(sample_rate), offset=np.array(offset))  # fmt: skip


def load(path: Path, sample_rate: int, offset: int) -> tuple[SubBlocks, str] | None:
    """The sub-blocks saved at ``path`` moved to audio starting at programme sample ``offset``,
    and the digest of the audio they were measured on; None when missing, of another rate, or
    when the move is not a whole number of sub-blocks."""
    try:
        data = read_npz(path)
        shift = offset - int(data["offset"])
        if int(data["rate"]) != sample_rate or shift % hop(sample_rate):
            return None
        first = int(data["first"]) + shift // hop(sample_rate)
        return SubBlocks(first, data["energy"], data["peak"]), str(data["digest"])
    except (OSError, KeyError, ValueError):
        return None


def blocks_path(segment_path: Path) -> Path:
    return segment_path.with_suffix(".loud.npz")


def decode(
    stream: av.AudioStream, packets: list[av.Packet[Any]], sample_rate: int
) -> tuple[int, Pcm]:
    """``packets`` decoded from a flushed decoder: (sample of the first decoded, samples x 2).
    Frames are placed by their timestamps."""
    context = stream.codec_context
    context.flush_buffers()
    frames: list[tuple[int, Pcm]] = []
    for packet in [*packets, None]:
        for frame in context.decode(packet):
            assert frame.pts is not None
            assert frame.time_base is not None
            at = round(frame.pts * frame.time_base * sample_rate)
            frames.append((at, np.asarray(frame.to_ndarray().T, dtype=np.float32)))
    if not frames:
        return 0, np.zeros((0, 2), dtype=np.float32)
    start = frames[0][0]
    end = max(at + len(pcm) for at, pcm in frames)
    out = np.zeros((end - start, 2), dtype=np.float32)
    for at, pcm in frames:
        out[at - start : at - start + len(pcm)] = pcm
    return start, out


def save_segment(muxed: Path, sample_offset: int, sample_rate: int, out: Path) -> None:
    """Measure a segment's AAC as the programme will hear it (it starts at programme sample
    ``sample_offset``) and keep the sub-blocks at ``out`` with the digest of its packets. Nothing
    is kept without an audio track or at a rate with no whole 100 ms step (assembly then measures
    the programme whole)."""
    if sample_rate % 10:
        return
    with av.open(str(muxed), stream_options=QUICK_PROBE) as container:
        if not container.streams.audio:
            return
        stream = container.streams.audio[0]
        packets = [
            p for p in container.demux(stream) if p.size and p.pts is not None and p.dts is not None
        ]
        digest = video_digest(packets)
        start, pcm = decode(stream, packets, sample_rate)
    blocks = sub_blocks(pcm, sample_offset + start, sample_rate)
    save(blocks, out, digest, sample_rate, sample_offset)
