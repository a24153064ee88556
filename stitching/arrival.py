"""Small pieces of normalise-on-arrival: what arrived, its temporary files, the final remux."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import av

from media.graph import Stream
from media.probe import MediaInfo
from stitching.loudness import Loudness

if TYPE_CHECKING:
    from stitching.aac import Packet

TMP_SUFFIXES = (".video.mp4", ".f32", ".mp4", ".track.gray")


@dataclass(frozen=True)
class SideOutputs:
    """More outputs made from the normalised picture in the same FFmpeg run (transition windows).

    ``windows(video)`` takes a copy of the normalised video and returns one stream per entry of
    ``outputs``: the argv (after its ``-map``) that encodes it.
    """

    windows: Callable[[Stream], list[Stream]]
    outputs: list[list[str]]
    after: Callable[[], object] | None = None
    """Measures those outputs once the run has written them, beside the segment's own."""


def combine(sides: list[SideOutputs]) -> SideOutputs | None:
    """Several ``SideOutputs`` as one (each gets its own copy of the picture); None for none."""
    if len(sides) < 2:
        return sides[0] if sides else None

    def windows(video: Stream) -> list[Stream]:
        copies = video.split(len(sides))
        return [
            stream
            for side, copy in zip(sides, copies, strict=True)
            for stream in side.windows(copy)
        ]

    def after() -> None:
        for side in sides:
            if side.after is not None:
                side.after()

    return SideOutputs(windows, [argv for side in sides for argv in side.outputs], after)


class Temporaries(NamedTuple):
    video: Path
    pcm: Path
    muxed: Path
    track: Path


@dataclass(frozen=True)
class Arrival:
    """An accepted clip as normalising sees it: source, its probe, the plan's demands, loudness."""

    src: Path
    info: MediaInfo
    frames: int
    hints: tuple[int, int]
    sample_offset: int
    loudness: Loudness


def add_audio(video: Path, packets: list[Packet], out: Path) -> None:
    """``video``'s packets plus the AAC ``packets`` (pts in samples from the segment start)."""
    with av.open(str(video)) as source, av.open(str(out), "w", format="mp4") as output:
        template = source.streams.video[0]
        video_out = output.add_stream_from_template(template)
        video_out.time_base = template.time_base
        audio_out = output.add_stream("aac", rate=packets[0].time_base.denominator)
        audio_out.codec_context.layout = "stereo"
        pending = iter(packets)
        upcoming = next(pending, None)
        for packet in source.demux(template):
            if packet.dts is None or packet.time_base is None:
                continue
            when = packet.dts * packet.time_base
            while upcoming is not None and _seconds(upcoming) <= when:
                _mux(output, upcoming, audio_out)
                upcoming = next(pending, None)
            packet.stream = video_out
            output.mux(packet)
        while upcoming is not None:
            _mux(output, upcoming, audio_out)
            upcoming = next(pending, None)


def _seconds(packet: Packet) -> Fraction:
    assert packet.pts is not None
    return packet.pts * Fraction(packet.time_base)


def _mux(output: av.container.OutputContainer, packet: Packet, stream: av.AudioStream) -> None:
    packet.stream = stream
    output.mux(packet)
