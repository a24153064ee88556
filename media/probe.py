"""Probing with PyAV: what a media file really contains, measured, not taken from the request."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import av.error

from foundation.limits import MAX_PIXELS
from media.colour import SourceColour, colour_of, hdr_transfer
from media.files import EMPTY as _EMPTY
from media.files import is_empty

EMPTY = f"it {_EMPTY}"
"""A 0-byte file's ``MediaInfo.error`` (FFmpeg's own is "Invalid data found when processing
input"): ``shotline stitch`` says ``CLIP[i]: PATH: it is empty (0 bytes)``."""


@dataclass(frozen=True)
class MediaInfo:
    """Measured facts about a file; ``error`` is set (rest best-effort) when it is unreadable."""

    path: Path
    container: str
    duration_s: float
    video_codec: str | None
    width: int
    height: int
    fps: float
    frame_count: int | None
    pix_fmt: str | None
    sar: Fraction | None
    rotation: int
    video_duration_s: float | None
    audio_codec: str | None
    audio_channels: int
    audio_rate: int
    audio_duration_s: float | None
    error: str | None = None
    vfr: bool = False
    video_lead_s: float = 0.0
    """How long after the file's earliest stream the video starts (its audio may start first)."""
    matrix_tag: int = 2
    """The video's Y'CbCr matrix tag (``AVColorSpace``; 2 = unspecified, no tag)."""
    range_tag: int = 0
    """The video's range tag (``AVColorRange``; 0 = unspecified, 1 = limited, 2 = full)."""
    transfer_tag: int = 2
    """The video's transfer tag (``AVColorTransferCharacteristic``; 2 = unspecified)."""

    @property
    def hdr(self) -> bool:
        """The video's transfer is HDR (PQ or HLG): it needs tone mapping to be shown as SDR."""
        return hdr_transfer(self.transfer_tag) is not None

    @property
    def colour(self) -> SourceColour | None:
        """How its Y'CbCr is read (``media.colour.colour_of``: the tags, else what players assume
        for its size); None without a Y'CbCr picture."""
        return colour_of(self.pix_fmt, self.matrix_tag, self.range_tag, self.width, self.height)

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown: SAR applied to the width, then rotation applied."""
        width = self.width
        if self.sar and self.sar != 1:
            width = round(self.width * self.sar)
        if self.rotation % 180 == 90:
            return self.height, width
        return width, self.height

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


def _stream_seconds(stream: av.stream.Stream) -> float | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def _unreadable(path: Path, error: str) -> MediaInfo:
    return MediaInfo(
        path, "", 0.0, None, 0, 0, 0.0, None, None, None, 0, None, None, 0, 0, None, error
    )


def _rotation(container: av.container.InputContainer, stream: av.VideoStream) -> int | None:
    """Rotation in degrees (0, 90, 180, 270) from the display matrix of the first decoded frame;
    None when the stream ends without one (a declared video stream holding no frame)."""
    try:
        for frame in container.decode(stream):
            return round(float(frame.rotation)) % 360
    except (av.error.FFmpegError, ValueError):
        return 0
    return None


def _video_lead(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    if stream.start_time is None or stream.time_base is None or container.start_time is None:
        return 0.0
    lead = float(stream.start_time * stream.time_base) - container.start_time / av.time_base
    return max(0.0, lead)


def _is_vfr(stream: av.VideoStream) -> bool:
    average, base = stream.average_rate, stream.base_rate
    if not average or not base:
        return False
    return abs(float(average) - float(base)) > 0.01 * float(base)


def picture_stream(container: av.container.InputContainer) -> av.VideoStream | None:
    """The first video stream that is not a cover picture (an audio file's artwork is a video
    stream of one frame with the ``attached_pic`` disposition; stitching one failed inside
    FFmpeg and the gate judged it a truncated video)."""
    return next(
        (
            s
            for s in container.streams.video
            if not s.disposition & av.stream.Disposition.attached_pic
        ),
        None,
    )


def probe(path: Path, *, read_rotation: bool = True) -> MediaInfo:
    """Read container and stream headers; an unreadable file yields ``error``, not an exception.
    ``read_rotation`` decodes the first frame for its display matrix (the gate reads it in its own
    decode pass instead); a video stream without any frame is then an ``error``."""
    if is_empty(path):
        return _unreadable(path, EMPTY)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        return _unreadable(path, f"cannot open: {exc}")
    with container:
        video = picture_stream(container)
        audio = container.streams.audio[0] if container.streams.audio else None
        duration = float(container.duration / av.time_base) if container.duration else 0.0
        rate = video.average_rate if video is not None else None
        sar = video.sample_aspect_ratio if video is not None else None
        rotation = _rotation(container, video) if video is not None and read_rotation else 0
        info = MediaInfo(
            path=path,
            container=container.format.name,
            duration_s=duration,
            video_codec=video.codec_context.name if video is not None else None,
            width=video.codec_context.width if video is not None else 0,
            height=video.codec_context.height if video is not None else 0,
            fps=float(rate) if rate else 0.0,
            frame_count=(video.frames or None) if video is not None else None,
            pix_fmt=video.codec_context.pix_fmt if video is not None else None,
            sar=Fraction(sar) if sar else None,
            rotation=rotation or 0,
            video_duration_s=_stream_seconds(video) if video is not None else None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            audio_channels=audio.codec_context.channels if audio is not None else 0,
            audio_rate=audio.codec_context.sample_rate if audio is not None else 0,
            audio_duration_s=_stream_seconds(audio) if audio is not None else None,
            vfr=_is_vfr(video) if video is not None else False,
            video_lead_s=_video_lead(container, video) if video is not None else 0.0,
            matrix_tag=int(video.codec_context.colorspace) if video is not None else 2,
            range_tag=int(video.codec_context.color_range) if video is not None else 0,
            transfer_tag=int(video.codec_context.color_trc) if video is not None else 2,
        )
    return info if rotation is not None else replace(info, error="its video stream has no frame")


def header_refusal(header: MediaInfo) -> str | None:
    """Why a file must not be decoded, from its header alone (``probe(path, read_rotation=False)``):
    a still image, or more pixels a frame than any output shotline makes (a 1.5 MB MJPEG declaring
    16000x16000 took 12 s and 830 MB to normalise, 442 MB to decode its first frame). None: it is
    worth decoding (an unreadable header is the caller's ``header.error``)."""
    if header.container == "image2" or header.container.endswith("_pipe"):  # png_pipe, ...
        return f"is a still image ({header.container}), not a video clip"
    width, height = header.width, header.height
    if width * height > MAX_PIXELS:
        return f"it declares {width}x{height} pixels a frame, over {MAX_PIXELS:,} (not decoded)"
    return None


def probe_guarded(path: Path) -> tuple[MediaInfo, str | None]:
    """The file's full ``probe``, unless its header alone refuses it (``header_refusal``): then
    the header's probe and the reason, no frame decoded. An unreadable header comes back as it is
    (its ``error``), not probed again."""
    header = probe(path, read_rotation=False)
    if header.error:
        return header, None
    why = header_refusal(header)
    return (header, why) if why is not None else (probe(path), None)


def truncation(info: MediaInfo) -> str | None:
    """Why a readable clip is truncated (None when it is not): its packets, read without decoding,
    end short of what its header declares, by more than two frames, both its video's and the whole
    file's (bytes cut off a file whose index is at its start; a video shorter than its audio is
    not truncated). The gate finds the same file ``truncated`` by decoding it."""
    declared = info.video_duration_s or info.duration_s
    video_end, file_end, packets = _packet_ends(info.path)
    tolerance = 2.0 / info.fps if info.fps else 0.1
    if declared - video_end <= tolerance or info.duration_s - file_end <= tolerance:
        return None
    frames = f" ({packets} of {info.frame_count} frames)" if info.frame_count else ""
    return (
        f"it is truncated: its video stops at {video_end:.2f} s of the {declared:.2f} s its "
        f"header declares{frames}"
    )


def _packet_ends(path: Path) -> tuple[float, float, int]:
    """Where the first video stream's packets end (from its start), where any stream's end (from
    the file's start), and how many video packets there are."""
    video_end = file_end = 0.0
    packets = 0
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        origin = (container.start_time or 0) / av.time_base
        for packet in container.demux():
            if packet.pts is None or not packet.size or packet.time_base is None:
                continue
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            file_end = max(file_end, end - origin)
            if packet.stream is video:
                packets += 1
                start = float((video.start_time or 0) * packet.time_base)
                video_end = max(video_end, end - start)
    return video_end, file_end, packets


def count_frames(path: Path) -> int:
    """Decode-free frame count: packets of the first video stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size)
