"""Video assembly: stream-copied ranges of segments, re-encoded transition windows between them.

Segments have closed GOPs, so any range that starts on a keyframe and ends on the next range's
keyframe (or the segment's end) can be copied packet by packet. A transition window covers the
previous shot from its last keyframe at or before the overlap to the end and the next shot from its
start to its first keyframe at or after the overlap; with the keyframe hints given to ``normalise``
a window is exactly the overlap.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import av

from media.graph import Stream, compile_graph, join, open_input
from stitching.blend import transition_chain
from stitching.chains import window_x264_args, x264_args
from stitching.errors import PlanError
from stitching.pieces import CopyPiece, Piece, WindowPiece
from stitching.plan import EditPlan
from stitching.sound import (
    AudioParts,
    demux_all,
    interior_packets,
    open_quick,
    packet_hash,
    scale,
    units,
)

if TYPE_CHECKING:
    from stitching.sound import Demuxed


def _window_into(plan: EditPlan, index: int, exact: bool) -> WindowPiece | None:
    shot = plan.shots[index]
    if shot.transition.kind == "cut":
        return None
    overlap = shot.transition_frames
    after = (k for k in shot.segment.keyframes if k >= overlap)
    head_to = overlap if exact else min(after, default=shot.frames)
    if index == 0:
        return WindowPiece(0, 0, head_to, 0, 0)
    prev = plan.shots[index - 1]
    start = prev.frames - overlap
    prev_from = start if exact else max(k for k in prev.segment.keyframes if k <= start)
    return WindowPiece(index, prev_from, head_to, overlap, prev.frames)


def seek_to(frame: int, rate: Fraction) -> dict[str, str]:
    """Input options that start decoding at ``frame`` (half a frame early, so rounding cannot skip
    it; none for frame 0)."""
    return {"ss": f"{float((frame - Fraction(1, 2)) / rate):.6f}"} if frame else {}


def plan_pieces(plan: EditPlan, *, exact: bool = False) -> list[Piece]:
    """Copy ranges and windows in timeline order; ``PlanError`` if two windows share a GOP.

    Windows start and end on keyframes, to copy the ranges between them; ``exact`` windows are
    each transition's overlap alone, for a timeline that is re-encoded whole (``full_argv``)."""
    windows = [_window_into(plan, i, exact) for i in range(len(plan.shots))]
    pieces: list[Piece] = []
    for index, shot in enumerate(plan.shots):
        window = windows[index]
        if window is not None:
            pieces.append(window)
        start = window.head_to if window is not None else 0
        following = windows[index + 1] if index + 1 < len(windows) else None
        end = following.prev_from if following is not None else shot.frames
        if end < start:
            raise PlanError(f"shot {shot.shot_id}: transition windows overlap ({start} > {end})")
        if end > start:
            pieces.append(CopyPiece(index, start, end))
    total = sum(piece.frames for piece in pieces)
    if total != plan.total_frames:
        raise PlanError(f"pieces add up to {total} frames, plan has {plan.total_frames}")
    return pieces


def _window_stream(plan: EditPlan, window: WindowPiece) -> Stream:
    """One window's picture (ends before the ``format`` every window gets)."""
    profile, shot = plan.profile, plan.shots[window.shot]
    if window.shot == 0:
        head = open_input(str(shot.segment.path), threads=1)["v"].filter(
            "trim", end_frame=window.head_to
        )
        return head.filter("fade", t="in", start_frame=0, nb_frames=shot.transition_frames)
    prev = plan.shots[window.shot - 1]
    prev_in = open_input(
        str(prev.segment.path), threads=1, **seek_to(window.prev_from, profile.rate)
    )
    head_in = open_input(
        str(shot.segment.path), threads=1, t=f"{float((window.head_to + 1) / profile.rate):.6f}"
    )
    tail = window.prev_frames - window.prev_from
    trimmed = prev_in["v"].filter("trim", end_frame=tail)
    return transition_chain(trimmed, head_in["v"], window, shot.transition.kind, profile)


def windows_argv(plan: EditPlan, windows: list[WindowPiece], out: Path) -> list[str]:
    """Argv re-encoding every transition window, back to back, in ONE encode (video only).

    Window ``k`` occupies frames ``[sum(frames[:k]), sum(frames[:k+1]))`` of ``out`` and starts
    on a forced keyframe, with the segments' encoder settings.
    """
    pictures = [
        _window_stream(plan, window).filter("format", plan.profile.pix_fmt) for window in windows
    ]
    joined = (
        pictures[0] if len(pictures) == 1 else join("concat", pictures, n=len(pictures), v=1, a=0)
    )
    graph = compile_graph([joined])
    starts = [sum(w.frames for w in windows[:i]) for i in range(len(windows))]
    total = sum(w.frames for w in windows)
    return [
        *graph.inputs, "-filter_complex_threads", "1", "-filter_complex", graph.text,
        "-map", graph.labels[0], "-frames:v", str(total), "-an", *window_x264_args(plan.profile, starts),
        "-f", "mp4", str(out),
    ]  # fmt: skip


Source = tuple[Path, int, int]


def sources(plan: EditPlan, pieces: list[Piece], windows: dict[int, Path]) -> list[Source]:
    """(file, first frame, end frame) to copy, in timeline order; ``windows`` by shot index."""
    out: list[Source] = []
    for piece in pieces:
        if isinstance(piece, CopyPiece):
            out.append((plan.shots[piece.shot].segment.path, piece.start, piece.end))
        else:
            out.append((windows[piece.shot], 0, piece.frames))
    return out


class SegmentChanged(PlanError):
    """A segment's video packets differ from the ones measured when it was normalised."""


if TYPE_CHECKING:
    Timed: TypeAlias = tuple[float, av.Packet[Any], bool, str]
    """A packet's decoding time in seconds (correctly rounded: distinct times stay distinct),
    the packet, whether it is video, and its digest (``sound.packet_hash``)."""


def _video_packets(
    files: list[Source], plan: EditPlan, demuxed: dict[Path, Demuxed]
) -> Iterator[Timed]:
    """Packets of every source range in order, moved to the timeline; segments' digests checked."""
    rate, ticks = plan.profile.rate, plan.profile.frame_ticks
    recorded = {shot.segment.path: shot.segment.video_sha for shot in plan.shots}
    ranges = [_in_range(demuxed[path], first, last, rate) for path, first, last in files]
    leads = [_decode_lead(packets) for packets in ranges]
    lead = max(leads, default=0)
    position = 0
    for (path, first, last), packets, own_lead in zip(files, ranges, leads, strict=True):
        found = demuxed[path]
        if recorded.get(path) and found.video_sha != recorded[path]:
            raise SegmentChanged(f"{path}: video differs from the segment that was normalised")
        seconds = scale(_time_base(found), 1)
        shift = (position - first) * ticks
        for packet, digest in packets:
            packet.pts = _stamp(packet.pts) + shift
            packet.dts = dts = _stamp(packet.dts) + shift - (lead - own_lead)
            yield dts * seconds[0] / seconds[1], packet, True, digest
        position += last - first


def _time_base(found: Demuxed) -> Fraction:
    base = found.container.streams.video[0].time_base
    assert base is not None
    return base


def _in_range(
    found: Demuxed, first: int, last: int, rate: Fraction
) -> list[tuple[av.Packet[Any], str]]:
    """The packets (and digests) of frames ``[first, last)``, in decoding order."""
    frames = scale(_time_base(found), rate)
    return [
        (packet, digest)
        for packet, digest in zip(found.video, found.video_hashes, strict=True)
        if first <= units(_stamp(packet.pts), frames) < last
    ]


def _decode_lead(packets: list[tuple[av.Packet[Any], str]]) -> int:
    """Ticks by which the first packet is decoded before the first picture is shown: x264's
    reordering delay, which it leaves out of a clip too short to reorder (two frames). Packets of
    ranges with less lead are decoded that much earlier, or the next range's would not follow."""
    if not packets:
        return 0
    return min(_stamp(p.pts) for p, _ in packets) - _stamp(packets[0][0].dts)


def _stamp(stamp: int | None) -> int:
    assert stamp is not None
    return stamp


def _copy_stream(plan: EditPlan, piece: CopyPiece) -> Stream:
    """Frames ``[start, end)`` of a segment, decoded (for ``full_argv``)."""
    path = str(plan.shots[piece.shot].segment.path)
    picture = open_input(path, **seek_to(piece.start, plan.profile.rate))["v"]
    return picture.filter("trim", end_frame=piece.frames).filter("setpts", "PTS-STARTPTS")


def full_argv(plan: EditPlan, out: Path) -> list[str]:
    """Fallback: the whole timeline re-encoded in one graph, from the same pieces and windows as
    the copy path (``plan_pieces``), each window exactly its transition's overlap."""
    pictures = [
        _window_stream(plan, piece) if isinstance(piece, WindowPiece) else _copy_stream(plan, piece)
        for piece in plan_pieces(plan, exact=True)
    ]
    formatted = [picture.filter("format", plan.profile.pix_fmt) for picture in pictures]
    graph = compile_graph([join("concat", formatted, n=len(formatted), v=1, a=0)])
    return [
        *graph.inputs, "-filter_complex", graph.text, "-map", graph.labels[0],
        "-frames:v", str(plan.total_frames), "-an",
        *x264_args(plan.profile), "-f", "mp4", str(out),
    ]  # fmt: skip


PacketKey = tuple[int | None, int | None, str]


def packet_key(packet: av.Packet[Any]) -> PacketKey:
    return packet.pts, packet.dts, packet_hash(bytes(packet))


@dataclass(frozen=True)
class Written:
    """What ``mux`` wrote: the key of every video and audio packet, in order, and the digest of
    the audio packets of each segment it copied audio from, as read while copying."""

    video: list[PacketKey]
    audio: list[PacketKey]
    audio_sha: dict[Path, str]


def mux(
    plan: EditPlan,
    files: list[Source],
    audio: AudioParts | None,
    out: Path,
    demuxed: dict[Path, Demuxed] | None = None,
) -> Written:
    """Copy video packets in order (and the AAC, interleaved) into ``out``, faststart.

    ``demuxed``: files read already (``sound.demux_all``; they are consumed). Returns the key
    (timestamps and digest) of every packet written, so the file can be checked to carry exactly
    them.
    """
    paths = {path for path, _, _ in files}
    if audio is not None:
        paths |= {plan.shots[i.shot].segment.path for i in audio.interiors}
    with ExitStack() as stack:
        read = dict(demuxed or {})
        read |= demux_all(paths - read.keys(), stack)
        written = Written([], [], {path: read[path].audio_sha for path in paths})
        first = read[files[0][0]].container
        options = {"movflags": "+faststart"}
        output = stack.enter_context(av.open(str(out), "w", format="mp4", options=options))
        video_out = output.add_stream_from_template(first.streams.video[0])
        video_out.time_base = first.streams.video[0].time_base
        packets: Iterator[Timed] = _video_packets(files, plan, read)
        audio_out = None
        if audio is not None:
            audio_out = output.add_stream_from_template(_audio_template(plan, read, stack))
            packets = heapq.merge(packets, _sound(plan, audio, read), key=itemgetter(0))
        for _, packet, is_video, digest in packets:
            (written.video if is_video else written.audio).append((packet.pts, packet.dts, digest))
            packet.stream = video_out if is_video else audio_out
            output.mux(packet)
    return written


def _audio_template(plan: EditPlan, read: dict[Path, Demuxed], stack: ExitStack) -> av.AudioStream:
    opened = read.get(plan.shots[0].segment.path)
    template = (
        opened.container if opened else stack.enter_context(open_quick(plan.shots[0].segment.path))
    )
    return template.streams.audio[0]


def _sound(plan: EditPlan, audio: AudioParts, read: dict[Path, Demuxed]) -> list[Timed]:
    rate = plan.profile.sample_rate
    encoded = [(p, packet_hash(bytes(p))) for p in audio.packets]
    sound = sorted(
        [*interior_packets(plan, audio.interiors, read), *encoded],
        key=lambda item: item[0].pts or 0,
    )
    return [((p.dts or 0) / rate, p, False, digest) for p, digest in sound]
