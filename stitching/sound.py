"""Demuxing the segments once for assembly, and the programme's AAC packets as ``video.mux``
writes them beside the video: the interiors copied from the segments (moved to programme samples)
and the packets encoded around the joins."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av

from stitching.digest import QUICK_PROBE

if TYPE_CHECKING:
    from stitching.audio import Interior
    from stitching.plan import EditPlan


def open_quick(path: Path) -> av.container.InputContainer:
    """Open for packet copying: stream probing decodes no pictures (pix_fmt stays unknown)."""
    return av.open(str(path), stream_options=QUICK_PROBE)


@dataclass(frozen=True)
class AudioParts:
    """The programme's AAC: interiors copied from segments plus encoded packets (programme pts)."""

    interiors: list[Interior]
    packets: list[av.Packet[Any]]


@dataclass(frozen=True)
class Demuxed:
    """Every packet of a file, read in one pass (they refer to the open ``container``: whoever
    demuxed closes it), with the digests stream copy is checked against: ``video_digest`` of
    each stream, and each video packet's own (``video.packet_key``), computed as it was read."""

    container: av.container.InputContainer
    video: list[av.Packet[Any]]
    audio: list[av.Packet[Any]]
    video_sha: str
    audio_sha: str
    video_hashes: list[str]
    audio_hashes: list[str]


def packet_hash(data: bytes) -> str:
    """A packet's own digest (SHA-256, which this CPU computes fastest, cut to 96 bits)."""
    return hashlib.sha256(data).hexdigest()[:24]


def demux(path: Path) -> Demuxed:
    """All video and audio packets of a file, in one pass, with their digests."""
    packets: tuple[list[av.Packet[Any]], list[av.Packet[Any]]] = ([], [])
    hashes: tuple[list[str], list[str]] = ([], [])
    whole = (hashlib.sha256(), hashlib.sha256())
    container = open_quick(path)
    video = container.streams.video[0].index if container.streams.video else -1
    for packet in container.demux():
        if packet.size and packet.pts is not None and packet.dts is not None:
            kind = 0 if packet.stream_index == video else 1
            data = bytes(packet)
            whole[kind].update(f"{packet.pts},{packet.dts},{packet.size};".encode())
            whole[kind].update(data)
            hashes[kind].append(packet_hash(data))
            packets[kind].append(packet)
    video_sha, audio_sha = (digest.hexdigest()[:24] for digest in whole)  # ``video_digest``'s
    return Demuxed(container, *packets, video_sha, audio_sha, *hashes)


def demux_all(paths: Iterable[Path], stack: ExitStack) -> dict[Path, Demuxed]:
    """``demux`` of each file, two at a time; ``stack`` closes them."""
    unique = list(dict.fromkeys(paths))
    with ThreadPoolExecutor(max_workers=2) as pool:
        found = dict(zip(unique, pool.map(demux, unique), strict=True))
    for demuxed in found.values():
        stack.enter_context(demuxed.container)
    return found


def scale(time_base: Fraction, rate: Fraction | int) -> tuple[int, int]:
    """(numerator, denominator) turning a timestamp in ``time_base`` into units of 1/``rate``."""
    factor = Fraction(time_base) * rate
    return factor.numerator, factor.denominator


def units(stamp: int, scale: tuple[int, int]) -> int:
    """``round(stamp * scale)`` in integers (timestamps here are exact multiples)."""
    whole, rest = divmod(stamp * scale[0], scale[1])
    return whole if not rest else round(Fraction(stamp * scale[0], scale[1]))


def interior_stamps(
    plan: EditPlan, interiors: list[Interior], demuxed: dict[Path, Demuxed]
) -> Iterator[tuple[av.Packet[Any], int, str]]:
    """The segments' AAC packets within each interior, with their programme sample and their
    digest (``packet_hash``)."""
    sample_rate = plan.profile.sample_rate
    for interior in interiors:
        shot = plan.shots[interior.shot]
        found = demuxed[shot.segment.path]
        base = found.container.streams.audio[0].time_base
        assert base is not None
        samples = scale(base, sample_rate)
        for packet, digest in zip(found.audio, found.audio_hashes, strict=True):
            assert packet.pts is not None
            at = units(packet.pts, samples) + shot.sample_in
            if interior.keep.contains(at):
                yield packet, at, digest


def interior_packets(
    plan: EditPlan, interiors: list[Interior], demuxed: dict[Path, Demuxed]
) -> Iterator[tuple[av.Packet[Any], str]]:
    """AAC packets copied from the segments, moved to programme samples, within each interior,
    with their digests."""
    programme = Fraction(1, plan.profile.sample_rate)
    for packet, at, digest in interior_stamps(plan, interiors, demuxed):
        packet.time_base = programme
        packet.pts = packet.dts = at
        yield packet, digest


def _copied(packet: av.Packet[Any]) -> av.Packet[Any]:
    """A packet of its own with ``packet``'s bytes and timing (muxing consumes a packet)."""
    copy = av.Packet(bytes(packet))
    copy.pts, copy.dts, copy.duration = packet.pts, packet.dts, packet.duration
    copy.time_base = packet.time_base
    return copy


def moved(packet: av.Packet[Any], at: int, sample_rate: int) -> av.Packet[Any]:
    """A copy of a segment's packet at programme sample ``at`` (time base one sample)."""
    copy = av.Packet(bytes(packet))
    copy.pts = copy.dts = at
    copy.duration = packet.duration
    copy.time_base = Fraction(1, sample_rate)
    return copy


@contextmanager
def programme_sound(
    plan: EditPlan, audio: AudioParts, demuxed: dict[Path, Demuxed] | None = None
) -> Iterator[tuple[av.AudioStream, list[av.Packet[Any]]]]:
    """The packets of the programme's audio track in order, each a packet of its own (``mux``
    may consume those it muxes meanwhile), and a stream of their parameters (opened here, to
    decode or mux them); valid inside the ``with``. ``demuxed``: the segments read already."""
    paths = {plan.shots[interior.shot].segment.path for interior in audio.interiors}
    with ExitStack() as stack:
        read = dict(demuxed or {})
        read |= demux_all(paths - read.keys(), stack)
        template = stack.enter_context(open_quick(plan.shots[0].segment.path))
        rate = plan.profile.sample_rate
        copied = [moved(p, at, rate) for p, at, _ in interior_stamps(plan, audio.interiors, read)]
        sound = sorted([*copied, *map(_copied, audio.packets)], key=lambda p: p.pts or 0)
        yield template.streams.audio[0], sound


def audio_track(plan: EditPlan, audio: AudioParts, out: Path) -> None:
    """The programme's audio alone in ``out``: the AAC packets ``mux`` writes beside the video,
    so it can be measured while the video is muxed and shown to be the output's audio
    (``loudness_check.audio_identity``)."""
    with (
        programme_sound(plan, audio) as (template, sound),
        av.open(str(out), "w", format="mp4") as output,
    ):
        stream = output.add_stream_from_template(template)
        for packet in sound:
            packet.stream = stream
            output.mux(packet)
