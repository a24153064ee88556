"""What stream copy must reproduce exactly: digests of packets (timestamps and bytes) and the
stream parameters of a file (``probe_params``, ``scan_segment``)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av

if TYPE_CHECKING:
    from stitching.profile import OutputProfile

# Per-stream decoder options while the file is probed: no picture is decoded (an intra frame of
# busy 720p content costs ~30 ms). PyAV's type annotations say list[str]; it takes dicts.
QUICK_PROBE: Any = [{"skip_frame": "nonintra"}, {}]


def video_digest(packets: Iterable[av.Packet[Any]]) -> str:
    """Digest of packets (timestamps and bytes), video or audio: what stream copy reproduces."""
    digest = hashlib.sha256()
    for packet in packets:
        digest.update(f"{packet.pts},{packet.dts},{packet.size};".encode())
        digest.update(bytes(packet))
    return digest.hexdigest()[:24]


def probe_params(path: Path, *, quick: bool = False) -> dict[str, Any]:
    """Header-level stream parameters (no packet reading): what stream copy needs to be equal.

    ``quick`` decodes no picture, so ``pix_fmt`` is left out: it is coded in the SPS, which
    ``extradata_sha`` covers.
    """
    with av.open(str(path), stream_options=QUICK_PROBE if quick else None) as container:
        params = _params(container)
        if quick:
            params.pop("pix_fmt")
        return params


def extradata_sha(video: av.VideoStream) -> str:
    """Digest of a video stream's codec extradata (its SPS/PPS: equal for stream copy)."""
    return hashlib.sha256(video.codec_context.extradata or b"").hexdigest()[:16]


def _params(container: av.container.InputContainer) -> dict[str, Any]:
    video = container.streams.video[0]
    ctx = video.codec_context
    params: dict[str, Any] = {
        "width": ctx.width,
        "height": ctx.height,
        "fps": str(video.average_rate),
        "codec": ctx.name,
        "codec_profile": str(ctx.profile),
        "pix_fmt": str(ctx.pix_fmt),
        "sar": str(Fraction(video.sample_aspect_ratio or 1)),
        "time_base": str(video.time_base),
        "extradata_sha": extradata_sha(video),
    }
    if container.streams.audio:
        audio = container.streams.audio[0].codec_context
        params |= {"audio_codec": audio.name, "audio_rate": audio.sample_rate}
        params["audio_layout"] = audio.layout.name
    return params


def file_digest(path: Path) -> str:
    """``video_digest`` of a file's video packets, as they are read now."""
    with av.open(str(path), stream_options=QUICK_PROBE) as container:
        packets = [p for p in container.demux(video=0) if p.size and p.pts is not None]
        return video_digest(packets)


def scan_segment(path: Path, profile: OutputProfile) -> dict[str, Any]:
    """Stream parameters, frame count, keyframe indices and packet digest of an encoded segment."""
    with av.open(str(path)) as container:
        params = _params(container)
        params.pop("fps")
        video = container.streams.video[0]
        tb = video.time_base or Fraction(1, profile.timescale)
        packets = [p for p in container.demux(video) if p.size and p.pts is not None]
        keyframes = [round((p.pts or 0) * tb * profile.rate) for p in packets if p.is_keyframe]
        digest = video_digest(packets)
    return {**params, "frames": len(packets), "keyframes": tuple(sorted(keyframes)),
            "video_sha": digest}  # fmt: skip
