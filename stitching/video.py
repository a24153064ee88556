"""Video assembly: stream-copied ranges of segments, re-encoded transition windows between them.

Segments have closed GOPs, so any range that starts on a keyframe and ends on the next range's
keyframe (or the segment's end) can be copied packet by packet. A transition window covers the
previous shot from its last keyframe at or before the overlap to the end and the next shot from its
start to its first keyframe at or after the overlap; with the keyframe hints given to ``normalise``
a window is exactly the overlap.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import av

from media.graph import Stream, compile_graph, join, open_input
from stitching.audio import Interior
from stitching.errors import PlanError
from stitching.plan import XFADE, EditPlan
from stitching.profile import OutputProfile
from stitching.segment import QUICK_PROBE, video_digest, x264_args


@dataclass(frozen=True)
class CopyPiece:
    """Frames ``[start, end)`` of shot ``shot``'s segment, copied as packets."""

    shot: int
    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class WindowPiece:
    """Re-encoded window into shot ``shot``: previous shot from ``prev_from``, this shot to ``head_to``."""

    shot: int
    prev_from: int
    head_to: int
    overlap: int
    prev_frames: int

    @property
    def frames(self) -> int:
        return self.prev_frames - self.prev_from + self.head_to - self.overlap


Piece = CopyPiece | WindowPiece


def _window_into(plan: EditPlan, index: int) -> WindowPiece | None:
    shot = plan.shots[index]
    if shot.transition.kind == "cut":
        return None
    overlap = shot.transition_frames
    after = [k for k in shot.segment.keyframes if k >= overlap]
    head_to = min(after) if after else shot.frames
    if index == 0:
        return WindowPiece(0, 0, head_to, 0, 0)
    prev = plan.shots[index - 1]
    before = [k for k in prev.segment.keyframes if k <= prev.frames - overlap]
    return WindowPiece(index, max(before), head_to, overlap, prev.frames)


def plan_pieces(plan: EditPlan) -> list[Piece]:
    """Copy ranges and windows in timeline order; ``PlanError`` if two windows share a GOP."""
    windows = [_window_into(plan, i) for i in range(len(plan.shots))]
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
        head = open_input(str(shot.segment.path))["v"].filter("trim", end_frame=window.head_to)
        return head.filter("fade", t="in", start_frame=0, nb_frames=shot.transition_frames)
    prev = plan.shots[window.shot - 1]
    seek = f"{float((window.prev_from - Fraction(1, 2)) / profile.rate):.6f}"
    prev_in = open_input(str(prev.segment.path), **({"ss": seek} if window.prev_from else {}))
    head_in = open_input(
        str(shot.segment.path), t=f"{float((window.head_to + 1) / profile.rate):.6f}"
    )
    tail = window.prev_frames - window.prev_from
    trimmed = prev_in["v"].filter("trim", end_frame=tail)
    return xfade_chain(trimmed, head_in["v"], window, shot.transition.kind, profile)


def xfade_chain(
    prev: Stream, head: Stream, window: WindowPiece, kind: str, profile: OutputProfile
) -> Stream:
    """``prev`` (already trimmed to its frames from ``window.prev_from`` on) crossed into the first
    ``window.head_to`` frames of ``head``, both on the segments' time base."""
    tail, rate = window.prev_frames - window.prev_from, profile.rate
    prev = prev.filter("setpts", "PTS-STARTPTS").filter("settb", f"1/{profile.timescale}")
    head = head.filter("trim", end_frame=window.head_to)
    head = head.filter("setpts", "PTS-STARTPTS").filter("settb", f"1/{profile.timescale}")
    return join(
        "xfade",
        [prev, head],
        transition=XFADE[kind],
        duration=f"{float(window.overlap / rate):.6f}",
        offset=f"{float((tail - window.overlap) / rate):.6f}",
    )


def windows_argv(plan: EditPlan, windows: list[WindowPiece], out: Path) -> list[str]:
    """Argv re-encoding every transition window, back to back, in ONE encode (video only).

    Window ``k`` occupies frames ``[sum(frames[:k]), sum(frames[:k+1]))`` of ``out`` and starts
    on a forced keyframe, with the segments' encoder settings.
    """
    pictures = [
        _window_stream(plan, window).filter("format", plan.profile.pix_fmt) for window in windows
    ]
    graph = compile_graph([join("concat", pictures, n=len(windows), v=1, a=0)])
    starts = [sum(w.frames for w in windows[:i]) for i in range(len(windows))]
    total = sum(w.frames for w in windows)
    return [
        *graph.inputs, "-filter_complex", graph.text, "-map", graph.labels[0],
        "-frames:v", str(total), "-an", *x264_args(plan.profile, starts), "-f", "mp4", str(out),
    ]  # fmt: skip


def _frame_index(packet: av.Packet[Any], rate: Fraction) -> int:
    assert packet.pts is not None
    assert packet.time_base is not None
    return round(packet.pts * packet.time_base * rate)


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


def open_quick(path: Path) -> av.container.InputContainer:
    """Open for packet copying: stream probing decodes no pictures (pix_fmt stays unknown)."""
    return av.open(str(path), stream_options=QUICK_PROBE)


if TYPE_CHECKING:
    Demuxed: TypeAlias = tuple[
        av.container.InputContainer, list[av.Packet[Any]], list[av.Packet[Any]]
    ]


def _demux(path: Path) -> Demuxed:
    """All video and audio packets of a file, in one pass (the file stays open: packets refer to
    its streams; the caller closes it)."""
    video: list[av.Packet[Any]] = []
    audio: list[av.Packet[Any]] = []
    container = open_quick(path)
    for packet in container.demux():
        if packet.size and packet.pts is not None and packet.dts is not None:
            (video if packet.stream.type == "video" else audio).append(packet)
    return container, video, audio


def _video_packets(
    files: list[Source], plan: EditPlan, demuxed: dict[Path, Demuxed]
) -> Iterator[av.Packet[Any]]:
    """Packets of every source range in order, moved to the timeline; segments' digests checked."""
    rate, ticks = plan.profile.rate, plan.profile.frame_ticks
    recorded = {shot.segment.path: shot.segment.video_sha for shot in plan.shots}
    position = 0
    for path, first, last in files:
        packets = demuxed[path][1]
        if recorded.get(path) and video_digest(packets) != recorded[path]:
            raise SegmentChanged(f"{path}: video differs from the segment that was normalised")
        for packet in packets:
            if first <= _frame_index(packet, rate) < last:
                shift = (position - first) * ticks
                packet.pts += shift  # type: ignore[operator]
                packet.dts += shift  # type: ignore[operator]
                yield packet
        position += last - first


def _interior_packets(
    plan: EditPlan, interiors: list[Interior], demuxed: dict[Path, Demuxed]
) -> Iterator[av.Packet[Any]]:
    """AAC packets copied from the segments, moved to programme samples, within each interior."""
    sample_rate = plan.profile.sample_rate
    for interior in interiors:
        shot = plan.shots[interior.shot]
        for packet in demuxed[shot.segment.path][2]:
            assert packet.pts is not None
            at = round(packet.pts * packet.time_base * sample_rate) + shot.sample_in
            if interior.keep.contains(at):
                packet.time_base = Fraction(1, sample_rate)
                packet.pts = packet.dts = at
                yield packet


def _when(packet: av.Packet[Any]) -> Fraction:
    assert packet.dts is not None
    assert packet.time_base is not None
    return packet.dts * packet.time_base


def full_argv(plan: EditPlan, out: Path) -> list[str]:
    """Fallback: the whole timeline through one filter graph (concat for cuts, xfade otherwise)."""
    rate = plan.profile.rate
    timeline: Stream | None = None
    length = 0
    for index, shot in enumerate(plan.shots):
        picture = open_input(str(shot.segment.path))["v"]
        t = shot.transition_frames
        if timeline is None:
            timeline = (
                picture.filter("fade", t="in", start_frame=0, nb_frames=t)
                if t
                else picture.filter("null")
            )
        elif shot.transition.kind == "cut":
            timeline = join("concat", [timeline, picture], n=2, v=1, a=0)
        else:
            timeline = join(
                "xfade",
                [timeline, picture],
                transition=XFADE[shot.transition.kind],
                duration=f"{float(t / rate):.6f}",
                offset=f"{float((length - t) / rate):.6f}",
            )
        length += shot.frames - (t if index else 0)
    assert timeline is not None, "an edit plan has at least one shot"
    graph = compile_graph([timeline.filter("format", plan.profile.pix_fmt)])
    return [
        *graph.inputs, "-filter_complex", graph.text, "-map", graph.labels[0],
        "-frames:v", str(plan.total_frames), "-an",
        *x264_args(plan.profile), "-f", "mp4", str(out),
    ]  # fmt: skip


PacketKey = tuple[int | None, int | None, str]


def packet_key(packet: av.Packet[Any]) -> PacketKey:
    return packet.pts, packet.dts, hashlib.blake2b(bytes(packet), digest_size=12).hexdigest()


@dataclass(frozen=True)
class AudioParts:
    """The programme's AAC: interiors copied from segments plus encoded packets (programme pts)."""

    interiors: list[Interior]
    packets: list[av.Packet[Any]]


def mux(
    plan: EditPlan, files: list[Source], audio: AudioParts | None, out: Path
) -> list[PacketKey]:
    """Copy video packets in order (and the AAC, interleaved) into ``out``, faststart.

    Returns the key (timestamps and digest) of every video packet written, in order, so the file
    can be checked to carry exactly them.
    """
    written: list[PacketKey] = []
    paths = (
        {path for path, _, _ in files} | {plan.shots[i.shot].segment.path for i in audio.interiors}
        if audio
        else {path for path, _, _ in files}
    )
    with ExitStack() as stack:
        with ThreadPoolExecutor(max_workers=2) as pool:
            demuxed = dict(zip(paths, pool.map(_demux, paths), strict=True))
        for container, _, _ in demuxed.values():
            stack.enter_context(container)
        first = stack.enter_context(open_quick(files[0][0]))
        options = {"movflags": "+faststart"}
        output = stack.enter_context(av.open(str(out), "w", format="mp4", options=options))
        video_out = output.add_stream_from_template(first.streams.video[0])
        video_out.time_base = first.streams.video[0].time_base
        streams: dict[str, Any] = {"video": video_out}
        packets: Iterator[av.Packet[Any]] = _video_packets(files, plan, demuxed)
        if audio is not None:
            template = stack.enter_context(open_quick(plan.shots[0].segment.path))
            streams["audio"] = output.add_stream_from_template(template.streams.audio[0])
            sound = sorted(
                [*_interior_packets(plan, audio.interiors, demuxed), *audio.packets],
                key=lambda p: p.pts or 0,
            )
            packets = heapq.merge(packets, sound, key=_when)
        for packet in packets:
            kind = packet.stream.type if packet.stream is not None else "audio"
            if kind == "video":
                written.append(packet_key(packet))
            packet.stream = streams[kind]
            output.mux(packet)
    return written


def _copied(packet: av.Packet[Any]) -> av.Packet[Any]:
    """A packet of its own with ``packet``'s bytes and timing (muxing consumes a packet)."""
    copy = av.Packet(bytes(packet))
    copy.pts, copy.dts, copy.duration = packet.pts, packet.dts, packet.duration
    copy.time_base = packet.time_base
    return copy


def _demux_audio(path: Path) -> Demuxed:
    container = open_quick(path)
    packets = [p for p in container.demux(audio=0) if p.size and p.pts is not None]
    return container, [], packets


def audio_track(plan: EditPlan, audio: AudioParts, out: Path) -> None:
    """The programme's audio alone in ``out``: the AAC packets ``mux`` writes beside the video
    (interiors demuxed from the segments, encoded packets copied), so it can be measured while
    the video is muxed and shown to be the output's audio (``verify.audio_identity``)."""
    paths = {plan.shots[interior.shot].segment.path for interior in audio.interiors}
    with ExitStack() as stack:
        demuxed = {path: _demux_audio(path) for path in paths}
        for container, _, _ in demuxed.values():
            stack.enter_context(container)
        template = stack.enter_context(open_quick(plan.shots[0].segment.path))
        output = stack.enter_context(av.open(str(out), "w", format="mp4"))
        stream = output.add_stream_from_template(template.streams.audio[0])
        sound = sorted(
            [*_interior_packets(plan, audio.interiors, demuxed), *map(_copied, audio.packets)],
            key=lambda p: p.pts or 0,
        )
        for packet in sound:
            packet.stream = stream
            output.mux(packet)
