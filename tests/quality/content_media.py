"""Small real clips for the content checks: text drawn with OpenCV, speech-like audio, encoded
with PyAV (H.264 + AAC)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

from media.speechlike import speechlike

W, H, FPS, RATE = 320, 180, 12, 48_000


def frame(index: int, text: str | None) -> npt.NDArray[np.uint8]:
    image = np.full((H, W, 3), (40, 60, 90), np.uint8)
    cv2.circle(image, (40 + index * 8, 60), 30, (200, 180, 50), -1)
    if text:
        cv2.putText(image, text, (14, 140), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
    return image


def write_clip(
    path: Path, seconds: float, text: str | None, audio: npt.NDArray[np.float32] | None
) -> Path:
    """A ``seconds`` long 320x180 clip showing ``text``, with mono ``audio`` at 48 kHz if given."""
    pictures = (frame(index, text) for index in range(round(seconds * FPS)))
    return encode(path, pictures, (W, H), FPS, audio)


def encode(
    path: Path,
    pictures: Iterable[npt.NDArray[np.uint8]],
    size: tuple[int, int],
    fps: int,
    audio: npt.NDArray[np.float32] | None,
) -> Path:
    """RGB ``pictures`` as H.264 and mono 48 kHz ``audio`` (if given) as AAC, in an MP4."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        video.options = {"preset": "ultrafast"}
        sound = out.add_stream("aac", rate=RATE) if audio is not None else None
        for picture in pictures:
            out.mux(video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(video.encode())
        if sound is not None and audio is not None:
            samples = av.AudioFrame.from_ndarray(audio.reshape(1, -1), format="fltp", layout="mono")
            samples.sample_rate = RATE
            out.mux(sound.encode(samples))
            out.mux(sound.encode())
    return path


def speech_audio(seconds: float, speech_s: float) -> npt.NDArray[np.float32]:
    """``speech_s`` of speech-like sound from 0.2 s, quiet room noise elsewhere."""
    rng = np.random.default_rng(7)
    out = (0.005 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)
    start = int(0.2 * RATE)
    voice = speechlike(speech_s, RATE)
    out[start : start + voice.size] += voice[: out.size - start]
    return out


def silence(seconds: float) -> npt.NDArray[np.float32]:
    return np.zeros(int(seconds * RATE), np.float32)
