"""Verify an assembled file against what ``mux`` wrote, reading it once.

One demux of the output gives its duration, A/V sync and every video and audio packet, compared
one by one with those written. The programme's loudness, put together while the file was muxed
from the segments' measurements and the packets written around the joins (``measured.assembled``),
counts only when the file's audio packets are the ones written and each segment's audio is the
audio measured; otherwise a measurement of the programme's audio track (or of the file) decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from stitching.digest import QUICK_PROBE
from stitching.loudness_check import Check, Reference, check_loudness, judge
from stitching.measured import Assembled
from stitching.plan import EditPlan
from stitching.verify import moov_first, timing
from stitching.video import PacketKey, Written, packet_key

MEASURED_ON = "the output's audio: copied stretches as measured when their segments were normalised"


@dataclass(frozen=True)
class Scan:
    """What one demux of a file finds."""

    streams: Check
    video: list[PacketKey]
    audio: list[PacketKey]


def scan(path: Path) -> Scan:
    """Frames, ends and packet keys of ``path``."""
    with av.open(str(path), stream_options=QUICK_PROBE) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        heard = audio.index if audio is not None else -1
        video_keys: list[PacketKey] = []
        audio_keys: list[PacketKey] = []
        frames, video_end = 0, 0
        for packet in container.demux():
            if not packet.size:
                continue
            if packet.stream_index == video.index:
                video_keys.append(packet_key(packet))
                if packet.pts is not None:
                    frames += 1
                    video_end = max(video_end, packet.pts + (packet.duration or 0))
            elif packet.stream_index == heard:
                audio_keys.append(packet_key(packet))
        audio_s = 0.0
        if audio is not None and audio.duration is not None and audio.time_base is not None:
            audio_s = float(audio.duration * audio.time_base)
        video_s = float(video_end * video.time_base) if video.time_base is not None else 0.0
    streams = {"frames": frames, "video_s": video_s, "audio_s": audio_s}
    return Scan(streams, video_keys, audio_keys)


def _same(ours: list[PacketKey], theirs: list[PacketKey]) -> Check:
    differing = sum(a != b for a, b in zip(ours, theirs, strict=False)) + abs(
        len(ours) - len(theirs)
    )
    return {"packets": len(ours), "reference_packets": len(theirs), "differing": differing,
            "passed": differing == 0}  # fmt: skip


def _loudness(plan: EditPlan, found: Scan, written: Written, source: Assembled) -> Check | None:
    """The programme's loudness put together (``measured.assembled``), when it holds for the
    file: its audio packets are those written, and each segment's those measured."""
    if found.audio != written.audio:
        return None
    if any(written.audio_sha.get(segment) != sha for segment, sha in source.digests.items()):
        return None
    return judge(plan, round(source.integrated, 2), round(source.true_peak, 2)) | {
        "measured_on": MEASURED_ON
    }


def verify_written(
    plan: EditPlan, path: Path, written: Written, loudness: Assembled | Reference | None
) -> dict[str, Check]:
    """Duration, A/V sync, loudness, faststart and the video packets of ``path`` against what
    ``mux`` wrote (``written``). Loudness: ``Assembled`` when the file's audio is proven the
    packets it was measured on; else ``loudness_check.check_loudness``, with the ``Reference``."""
    found = scan(path)
    duration, sync = timing(plan, found.streams)
    check = _loudness(plan, found, written, loudness) if isinstance(loudness, Assembled) else None
    if check is None:
        reference = loudness if isinstance(loudness, tuple) else None
        check = check_loudness(plan, path, reference)
    front = moov_first(path)
    return {
        "duration": duration,
        "av_sync": sync,
        "loudness": check,
        "faststart": {"moov_before_mdat": front, "passed": front},
        "video_packets": _same(found.video, written.video),
    }
