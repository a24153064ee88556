"""``local/still``: the clip of a keyframes preview, the shot's first frame (its keyframe) held for
the shot's duration with a slow push-in, drawn on this machine; a real H.264 MP4 of exactly
``round(duration * fps)`` frames at the requested size, deterministic for the same request.

No caption and no moving mark are drawn over the picture: what the reviewer approves is the
keyframe the final animates. Sound, when asked for, is the animatic's (an ambient bed, and a line
the shot's tts stage does not voice).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

from adapters.animatic import (
    SAMPLE_RATE,
    audio_stream,
    audio_track,
    encode_audio,
    first_frame,
    fps_fraction,
    frame_count,
    request_seed,
    video_stream,
)
from adapters.base import GenerationRequest
from adapters.errors import RejectedInputError

PUSH_IN = 0.03
"""How much closer the last frame is than the first (3%: a slow, steady push-in)."""


def pushed_in(picture: npt.NDArray[np.uint8], index: int, total: int) -> npt.NDArray[np.uint8]:
    """Frame ``index`` of ``total``: the picture scaled about its centre by up to ``PUSH_IN``."""
    scale = 1.0 + PUSH_IN * index / max(1, total - 1)
    height, width = picture.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, scale)
    moved = cv2.warpAffine(
        picture, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    return np.ascontiguousarray(moved, dtype=np.uint8)


def render_still(request: GenerationRequest, out: Path) -> Path:
    """Render ``request``'s first frame held for its duration to ``out`` (written atomically);
    a request without a readable first frame is refused (the router sends none without one)."""
    picture = first_frame(request)
    if picture is None:
        raise RejectedInputError("the still needs the shot's first frame (a keyframe)", "local")
    total = frame_count(request.duration_s, request.fps)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial.mp4")
    with av.open(str(partial), "w", format="mp4") as container:
        video = video_stream(container, request)
        audio = audio_stream(container) if request.audio else None
        for index in range(total):
            frame = pushed_in(picture, index, total)
            yuv = np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420), np.uint8)
            shown = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            shown.pts = index
            container.mux(video.encode(shown))
        container.mux(video.encode(None))
        if audio is not None:
            samples = round(total / fps_fraction(request.fps) * SAMPLE_RATE)
            encode_audio(container, audio, audio_track(request, samples, request_seed(request))[0])
    partial.replace(out)
    return out
