"""The one decode: every video frame once (luma plane, no colour conversion, a strided proxy at a
fixed short side), audio in the same demux loop, and per-frame statistics that all detectors read."""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import av.error
import cv2
import numpy as np
import numpy.typing as npt

from media.probe import MediaInfo, picture_stream
from quality.accumulate import AudioAccumulator, ColourSample, VideoAccumulator, VideoSeries
from quality.audio import AudioSeries, summarise_audio
from quality.policy import DetectorConfig

MAX_CONSECUTIVE_ERRORS = 8


@dataclass(frozen=True)
class Thumb:
    time_s: float
    rgb: npt.NDArray[np.uint8]


@dataclass(frozen=True)
class ClipAnalysis:
    """Everything measured in the single pass. ``error`` is set when nothing could be decoded."""

    info: MediaInfo
    video: VideoSeries | None
    audio: AudioSeries | None
    colour: list[ColourSample] = field(default_factory=list)
    thumbs: list[Thumb] = field(default_factory=list)
    decode_errors: int = 0
    error: str | None = None
    elapsed_s: float = 0.0
    speech_pcm: npt.NDArray[np.int16] | None = None  # 16 kHz mono, when asked for
    damaged: tuple[float, float] | None = None
    """Seconds from the first video packet that failed to decode to the next keyframe after the
    last one (or the end): the pictures between are missing or predicted from a broken one."""
    video_failures: int = 0


@dataclass
class _Pass:
    video: VideoAccumulator | None
    audio: AudioAccumulator | None
    errors: int = 0
    consecutive: int = 0
    video_failures: list[float] = field(default_factory=list)  # seconds from the video's start
    damage_from: float = float("inf")
    in_flight: deque[float] = field(default_factory=lambda: deque(maxlen=1))
    keyframes: list[float] = field(default_factory=list)


def analyse(
    path: Path | str,
    info: MediaInfo,
    cfg: DetectorConfig,
    *,
    keep_thumbs: bool = False,
    keep_speech: bool = False,
    stop_s: float = float("inf"),
) -> ClipAnalysis:
    """Decode ``path`` once and measure it. Never raises for a broken file. ``keep_thumbs`` keeps
    RGB thumbnails (judge, on-screen text), ``keep_speech`` a 16 kHz mono track (speech check).
    Decoding stops at the first packet past ``stop_s`` seconds, whatever the header declared."""
    started = time.perf_counter()
    if info.error:
        return ClipAnalysis(info, None, None, error=info.error)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        return ClipAnalysis(info, None, None, error=f"cannot open: {exc}")
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # the decoder's threads already use every core
    try:
        with container:
            state = _open_streams(container, cfg, keep_thumbs, keep_speech)
            _decode_all(container, state, stop_s)
    finally:
        cv2.setNumThreads(threads)
    video = state.video.finish() if state.video is not None else None
    audio_samples = state.audio.finish() if state.audio is not None else None
    audio = summarise_audio(audio_samples, cfg) if audio_samples is not None else None
    error = None
    if state.video is not None and (video is None or video.times.size == 0):
        error = "no video frame could be decoded"
    colour = state.video.colour if state.video is not None else []
    thumbs = [Thumb(t, rgb) for t, rgb in state.video.thumbs] if state.video is not None else []
    speech = state.audio.speech_pcm() if state.audio is not None else None
    return ClipAnalysis(
        info=info,
        video=video if video is not None and video.times.size else None,
        audio=audio,
        colour=colour,
        thumbs=thumbs,
        decode_errors=state.errors,
        error=error,
        elapsed_s=time.perf_counter() - started,
        speech_pcm=speech,
        damaged=_damage(state, video.end_s if video is not None else 0.0),
        video_failures=len(state.video_failures),
    )


def _open_streams(
    container: av.container.InputContainer,
    cfg: DetectorConfig,
    keep_thumbs: bool,
    keep_speech: bool,
) -> _Pass:
    vstream = picture_stream(container)
    astream = container.streams.audio[0] if container.streams.audio else None
    video = None
    if vstream is not None:
        vstream.thread_type = "AUTO"
        rate = vstream.average_rate or vstream.guessed_rate
        video = VideoAccumulator(cfg, float(rate) if rate else 24.0, keep_thumbs)
    audio = AudioAccumulator(keep_speech) if astream is not None else None
    state = _Pass(video, audio)
    if vstream is not None:  # the packets a frame-threaded decoder may still hold
        threads = vstream.codec_context.thread_count or min((os.cpu_count() or 1) + 1, 16)
        state.in_flight = deque(maxlen=threads + 1)  # FFmpeg's automatic count: cores + 1
    return state


def _decode_all(container: av.container.InputContainer, state: _Pass, stop_s: float) -> None:
    streams: list[Any] = [*container.streams.video[:1], *container.streams.audio[:1]]
    if not streams:
        return
    packets = container.demux(*streams)
    starts: dict[int, float] = {}  # each stream's first timestamp: stop_s counts from there
    while state.consecutive < MAX_CONSECUTIVE_ERRORS:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except (av.error.FFmpegError, ValueError):
            state.errors += 1
            return
        if _past(packet, starts, stop_s):
            for stream in streams:  # the frames the decoders still hold
                _take(state, _decoded(stream.decode, None))
            return
        video_s = _video_seconds(packet, starts)
        if video_s is not None:
            _note_video(state, video_s, packet.is_keyframe)
        try:
            frames = packet.decode()
        except (av.error.FFmpegError, ValueError):
            state.errors += 1
            state.consecutive += 1
            if video_s is not None:
                _video_failed(state, video_s)
            continue
        state.consecutive = 0
        _take(state, frames)


def _past(packet: av.Packet[Any], starts: dict[int, float], stop_s: float) -> bool:
    """Whether ``packet`` lies more than ``stop_s`` seconds after its stream's first packet (a
    provider's clip may start at any timestamp: 10 hours in, or below zero)."""
    if packet.pts is None or not packet.time_base:
        return False
    seconds = float(packet.pts * packet.time_base)
    return seconds - starts.setdefault(packet.stream.index, seconds) > stop_s


def _video_seconds(packet: av.Packet[Any], starts: dict[int, float]) -> float | None:
    """A video packet's time from the video's first packet (None: not video, or no timestamp)."""
    if packet.stream.type != "video" or packet.pts is None or not packet.time_base:
        return None
    return max(0.0, float(packet.pts * packet.time_base) - starts[packet.stream.index])


def _note_video(state: _Pass, seconds: float, keyframe: bool) -> None:
    if keyframe:
        state.keyframes.append(seconds)
    state.in_flight.append(seconds)
    if state.video_failures:  # decoded after a failure: maybe predicted from the lost picture
        state.damage_from = min(state.damage_from, seconds)


def _video_failed(state: _Pass, seconds: float) -> None:
    """A frame-threaded decoder reports a bad packet a few packets late: the damage may start
    at any packet still in flight."""
    state.video_failures.append(seconds)
    state.damage_from = min(state.damage_from, *state.in_flight)


def _damage(state: _Pass, end_s: float) -> tuple[float, float] | None:
    """From the earliest picture that may be lost or predicted from a lost one to the next
    keyframe after the last failure, or the end."""
    if not state.video_failures:
        return None
    last = max(state.video_failures)
    after = [k for k in state.keyframes if k > last]
    return state.damage_from, min(after) if after else max(end_s, last)


def _decoded(decode: Callable[[Any], list[Any]], packet: Any) -> list[Any]:
    try:
        return decode(packet)
    except (av.error.FFmpegError, ValueError):
        return []


def _take(state: _Pass, frames: Iterable[Any]) -> None:
    for frame in frames:
        if isinstance(frame, av.VideoFrame) and state.video is not None:
            state.video.add(frame)
        elif isinstance(frame, av.AudioFrame) and state.audio is not None:
            state.audio.add(frame)
