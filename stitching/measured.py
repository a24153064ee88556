"""The programme's loudness put together from measurements of its pieces (``stitching.meter``).

At normalise time each segment's final AAC is decoded and measured in 100 ms sub-blocks on the
programme's grid (``save_segment``). Copied audio decodes in the output exactly as in its segment
(AAC-LC output of a packet depends on that packet and the one before it), so the output's
sub-blocks inside a copied interior are the segment's, once the K-filter has forgotten what came
before the interior (``meter.settle`` samples). ``prepare`` takes those from the saved sidecars;
every other sub-block (around joins, or a programme's head) is measured on copies of the packets
``video.mux`` writes there (``picked``), decoded from ``meter.settle`` samples earlier
(``assembled``, ``finish``). The result equals measuring the whole decoded programme with the same
meter to within float rounding; it counts only once the output's audio packets are proven the
packets written, and each segment's audio the audio measured (``written.verify_written``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import numpy as np

from stitching import meter
from stitching.aac import FRAME
from stitching.errors import StitchError
from stitching.meter import Pcm
from stitching.sound import interior_stamps, moved, open_quick

if TYPE_CHECKING:
    from stitching.audio import Interior
    from stitching.plan import EditPlan
    from stitching.sound import AudioParts, Demuxed

TAIL = 64  # samples decoded past a range, for the oversampled peak's look-ahead


class MissingAudio(StitchError):
    """The programme's audio written does not cover what the plan says it lasts."""


@dataclass(frozen=True)
class Prepared:
    """Sub-blocks taken from segments (by programme sub-block), the digests their audio must
    still have (by segment path), and the sub-block ranges left to measure on the output."""

    known: dict[int, tuple[float, float]]
    digests: dict[Path, str]
    missing: list[tuple[int, int]]
    total: int

    def decode_ranges(self, sample_rate: int) -> list[tuple[int, int]]:
        """Programme samples to decode from the output for each missing range."""
        step, warm = meter.hop(sample_rate), meter.settle(sample_rate)
        return [(max(0, lo * step - warm), hi * step + TAIL) for lo, hi in self.missing]


def prepare(plan: EditPlan, interiors: list[Interior]) -> Prepared | None:
    """What the copied interiors give; None when a segment's sub-blocks are not saved or not on
    this plan's grid (the output is then measured whole)."""
    rate, total = plan.profile.sample_rate, plan.total_samples
    if rate % 10:
        return None
    step, warm = meter.hop(rate), meter.settle(rate)
    known: dict[int, tuple[float, float]] = {}
    digests: dict[Path, str] = {}
    for interior in interiors:
        shot = plan.shots[interior.shot]
        found = meter.load(meter.blocks_path(shot.segment.path), rate, shot.sample_in)
        if found is None:
            return None
        blocks, digests[shot.segment.path] = found
        keep_from, keep_to = interior.keep.keep_from, interior.keep.keep_to
        exact_from = 0 if keep_from is None else keep_from + FRAME + warm
        exact_to = total if keep_to is None else keep_to - TAIL
        trusted = blocks.between(-(-exact_from // step), exact_to // step)
        for k, energy, peak in zip(range(trusted.first, trusted.end), trusted.energy,
                                   trusted.peak, strict=True):  # fmt: skip
            known[k] = (float(energy), float(peak))
    return Prepared(known, digests, _gaps(known, -(-total // step)), total)


def _gaps(known: dict[int, tuple[float, float]], count: int) -> list[tuple[int, int]]:
    gaps: list[tuple[int, int]] = []
    for k in range(count):
        if k in known:
            continue
        if gaps and gaps[-1][1] == k:
            gaps[-1] = (gaps[-1][0], k + 1)
        else:
            gaps.append((k, k + 1))
    return gaps


def finish(
    prepared: Prepared, decoded: list[tuple[int, Pcm]], sample_rate: int
) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) from the known sub-blocks and the missing ranges decoded
    from the output (``decoded``: one (first sample, PCM) per ``decode_ranges`` entry)."""
    step, total = meter.hop(sample_rate), prepared.total
    count = -(-total // step)
    energy = np.zeros(count)
    peak = np.zeros(count, dtype=np.float32)
    for k, (e, p) in prepared.known.items():
        energy[k], peak[k] = e, p
    for (lo, hi), (start, pcm) in zip(prepared.missing, decoded, strict=True):
        ends = hi == count
        heard = pcm[: max(0, total - start)] if ends else pcm
        blocks = meter.sub_blocks(heard, start, sample_rate, ends=ends).between(lo, hi)
        if (blocks.first, blocks.end) != (lo, hi):
            raise MissingAudio(f"sub-blocks {lo}-{hi} are not in the audio written")
        energy[lo:hi], peak[lo:hi] = blocks.energy, blocks.peak
    return meter.integrated(energy[: total // step], sample_rate), meter.peak_db(peak)


def picked(
    plan: EditPlan, parts: AudioParts, prepared: Prepared, demuxed: dict[Path, Demuxed]
) -> list[av.Packet[Any]]:
    """Copies of the packets ``video.mux`` will write that ``assembled`` decodes (taken before
    ``mux`` consumes them), in programme order."""
    rate = plan.profile.sample_rate
    ranges = [(lo - 2 * FRAME, hi) for lo, hi in prepared.decode_ranges(rate)]

    def wanted(at: int) -> bool:
        return any(lo <= at < hi for lo, hi in ranges)

    stamps = interior_stamps(plan, parts.interiors, demuxed)
    copies = [moved(packet, at, rate) for packet, at, _ in stamps if wanted(at)]
    copies += [moved(p, p.pts, rate) for p in parts.packets if p.pts is not None and wanted(p.pts)]
    return sorted(copies, key=lambda p: p.pts or 0)


def assembled(plan: EditPlan, sound: list[av.Packet[Any]], prepared: Prepared) -> Assembled:
    """The programme's loudness from ``prepared`` and the missing ranges decoded from ``sound``
    (``picked``); it holds for the output once its audio packets are proven those ``mux``
    wrote, and each segment's audio the audio measured (``Assembled.digests``)."""
    rate = plan.profile.sample_rate
    decoded = []
    with open_quick(plan.shots[0].segment.path) as template:
        stream = template.streams.audio[0]
        for lo, hi in prepared.decode_ranges(rate):
            wanted = [p for p in sound if p.pts is not None and lo - 2 * FRAME <= p.pts < hi]
            decoded.append(meter.decode(stream, wanted, rate))
    integrated, peak = finish(prepared, decoded, rate)
    return Assembled(prepared.digests, integrated, peak)


@dataclass(frozen=True)
class Assembled:
    """The programme's loudness put together (``assembled``) and the digests of the segments'
    audio it was measured on, by segment path."""

    digests: dict[Path, str]
    integrated: float
    true_peak: float
