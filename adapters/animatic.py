"""The storyboard animatic: a real H.264/AAC MP4 per shot, drawn locally and deterministically.

Exactly ``round(duration * fps)`` frames at the requested size; the shot id and prompt, wrapped and
scaled to fit inside the frame on a contrasting panel (``media.caption``), are readable over a
moving background whose palette and motion follow the prompt and shot type. Audio, when asked
for, is an ambient bed, plus speech from ``espeak-ng`` when it is installed or a clearly marked
placeholder (a synthetic voice-like signal) when it is not.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import uuid
import wave
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt

from adapters.base import GenerationRequest
from foundation.spoken import shown_texts, spoken_words
from media.caption import Block, Caption, fit_block
from media.speechlike import speechlike, spoken_length_s

SAMPLE_RATE = 48_000
_PALETTES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    # keyword: (top colour, bottom colour) in BGR
    "night": ((60, 20, 10), (20, 5, 0)),
    "neon": ((160, 20, 200), (60, 10, 40)),
    "sunset": ((60, 120, 250), (40, 40, 120)),
    "sunrise": ((120, 180, 255), (90, 80, 160)),
    "forest": ((60, 140, 40), (20, 60, 10)),
    "ocean": ((200, 140, 30), (90, 50, 10)),
    "sea": ((200, 140, 30), (90, 50, 10)),
    "desert": ((120, 190, 230), (60, 120, 170)),
    "snow": ((250, 245, 240), (200, 190, 180)),
    "fire": ((20, 90, 240), (10, 20, 120)),
    "city": ((110, 100, 90), (40, 35, 30)),
    "studio": ((235, 235, 235), (170, 170, 170)),
    "space": ((40, 10, 10), (0, 0, 0)),
}


def frame_count(duration_s: float, fps: float) -> int:
    return max(1, round(duration_s * fps))


def fps_fraction(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


def request_seed(request: GenerationRequest) -> int:
    """A stable seed: the request's own, else a hash of what determines the picture."""
    if request.seed is not None:
        return request.seed
    key = f"{request.shot_id}|{request.prompt}|{request.model}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")


def _palette(prompt: str, seed: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    lowered = prompt.lower()
    for keyword, colours in _PALETTES.items():
        if keyword in lowered:
            return colours
    hue = seed % 180
    top = cv2.cvtColor(np.array([[[hue, 140, 200]]], np.uint8), cv2.COLOR_HSV2BGR)[0, 0]
    bottom = cv2.cvtColor(np.array([[[hue, 200, 70]]], np.uint8), cv2.COLOR_HSV2BGR)[0, 0]
    return (int(top[0]), int(top[1]), int(top[2])), (int(bottom[0]), int(bottom[1]), int(bottom[2]))


def _gradient(
    width: int, height: int, top: tuple[int, ...], bottom: tuple[int, ...]
) -> npt.NDArray[np.uint8]:
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    colours = (1 - ramp) * np.array(top, np.float32) + ramp * np.array(bottom, np.float32)
    return np.ascontiguousarray(np.broadcast_to(colours, (height, width, 3)).astype(np.uint8))


def first_frame(request: GenerationRequest) -> npt.NDArray[np.uint8] | None:
    """The request's first frame (a keyframe, a reference image, the previous shot's last frame)
    centre-cropped to the frame's aspect and sized to it, as the clip's background: the animatic
    starts from the image it is given, as an image-to-video model does. None without one."""
    if request.reference_image is None:
        return None
    image = cv2.imread(str(request.reference_image), cv2.IMREAD_COLOR)
    if image is None:
        return None
    height, width = image.shape[:2]
    aspect = request.width / request.height
    if width / height > aspect:
        keep = max(1, round(height * aspect))
        image = image[:, (width - keep) // 2 : (width - keep) // 2 + keep]
    else:
        keep = max(1, round(width / aspect))
        image = image[(height - keep) // 2 : (height - keep) // 2 + keep]
    sized = cv2.resize(image, (request.width, request.height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(sized, dtype=np.uint8)


PLACEHOLDER_NOTICE = "[dialogue: placeholder voice, espeak-ng not installed]"


def _margin(width: int, height: int) -> int:
    return max(4, round(0.04 * min(width, height)))


def _captions(
    request: GenerationRequest, base: npt.NDArray[np.uint8], total: int
) -> list[tuple[Caption, bool]]:
    """The title block (shot id, prompt, dialogue, placeholder notice) at the top and the frame
    stamp at the bottom, both inside a margin and above the progress bar, in every aspect ratio;
    each paired with whether it is the per-frame stamp. A frame too small to hold a block at the
    smallest legible size (a 64x36 test render) goes without it."""
    height, width = base.shape[:2]
    unit = min(width, height) / 720
    margin = _margin(width, height)
    inner = width - 2 * margin
    widest = f"{total - 1:04d}  frame {total}/{total}"
    stamp = fit_block([(widest, 1.0)], (0, 0), (inner, height), 0.6 * unit)
    stamp = stamp.moved(margin, height - _bar_height(height) - margin - stamp.height)
    groups = [(f"SHOT {request.shot_id}", 1.45), (request.prompt, 1.0)]
    if request.dialogue:
        groups.append((f'"{request.dialogue}"', 1.0))
        if request.audio and not _espeak_wave_available():
            groups.append((PLACEHOLDER_NOTICE, 0.8))
    room = min(round(0.62 * height), stamp.box[1] - 2 * margin)
    title = fit_block(groups, (margin, margin), (inner, max(0, room)), 0.9 * unit)
    blocks = [(title, False), (stamp, True)]
    return [(Caption.build(b, base), is_stamp) for b, is_stamp in blocks if _fits(b, base)]


def _shown(request: GenerationRequest, base: npt.NDArray[np.uint8]) -> list[tuple[Caption, bool]]:
    """Only the texts the prompt asks to be shown (``shown_texts``), as a title; no stamp."""
    texts = shown_texts(request.prompt)
    if not texts:
        return []
    height, width = base.shape[:2]
    margin = _margin(width, height)
    room = (width - 2 * margin, round(0.62 * height) - margin)
    block = fit_block(
        [(text, 1.45) for text in texts], (margin, margin), room, min(width, height) / 720
    )
    return [(Caption.build(block, base), False)] if _fits(block, base) else []


def _fits(block: Block, frame: npt.NDArray[np.uint8]) -> bool:
    x0, y0, x1, y1 = block.box
    height, width = int(frame.shape[0]), int(frame.shape[1])
    return 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height


def _bar_height(height: int) -> int:
    return max(3, height // 60)


def _triangle(phase: float) -> float:
    """A triangle wave in [-1, 1] of period 1: a constant speed that turns at once."""
    return 4 * abs((phase % 1.0) - 0.5) - 1


def disc_band(captions: list[tuple[Caption, bool]], height: int) -> tuple[float, float]:
    """The heights (fractions of the frame) the disc's centre moves between: 0.30-0.80, but
    never above the bottom of the title block, which is drawn over it (a long prompt's block
    reaches 62% of the frame: the disc moved under it for seconds, and a clip started from an
    image whose own disc stood still was rejected as frozen)."""
    titles = [caption.block.box[3] for caption, is_stamp in captions if not is_stamp]
    low = max([0.30, *(bottom / height for bottom in titles)])
    return min(low, 0.80), 0.80


def _draw_frame(
    base: npt.NDArray[np.uint8],
    index: int,
    request: GenerationRequest,
    motion_of: tuple[float, tuple[float, float]],
    ink: tuple[int, int, int] = (255, 255, 255),
) -> npt.NDArray[np.uint8]:
    """``motion_of``: the seed's phase and the band of heights the disc moves in."""
    height, width = base.shape[:2]
    frame = base.copy()
    rng_phase, (top, bottom) = motion_of
    total = frame_count(request.duration_s, request.fps)
    t = index / max(1, total - 1)
    motion = {"action": 2.5, "establishing": 0.6, "product": 1.0}.get(request.shot_type or "", 1.2)
    # cycles per 4 s of picture, not per clip: a 20 s shot's disc stood almost still for over a
    # second at each turn, and the gate rejected the animatic's own clip as frozen; across the
    # frame at a constant speed, turning at once: a sine's slow turns read as frozen too
    cycles = motion * (index / request.fps) / 4.0
    cx = int((0.5 + 0.4 * _triangle(cycles + rng_phase)) * width)
    middle, reach = (top + bottom) / 2, (bottom - top) / 2
    cy = int((middle + reach * np.cos(2 * np.pi * (cycles * 0.7 + rng_phase))) * height)
    radius = max(4, min(width, height) // 6)
    cv2.circle(frame, (cx, cy), radius, ink, -1, cv2.LINE_AA)
    cv2.circle(
        frame,
        (cx, cy),
        max(2, radius * 2 // 3),
        tuple(int(c) for c in base[height // 2, width // 2]),
        -1,
    )
    bar_x = round(t * (width - 1))
    cv2.rectangle(
        frame, (0, height - _bar_height(height)), (bar_x, height - 1), (255, 255, 255), -1
    )
    return frame


def _espeak_wave(text: str) -> npt.NDArray[np.float32] | None:
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = Path(tmp) / "speech.wav"
        done = subprocess.run(
            [exe, "-w", str(wav_path), text], capture_output=True, check=False, timeout=60
        )
        if done.returncode != 0 or not wav_path.exists():
            return None
        with wave.open(str(wav_path)) as handle:
            rate, raw = handle.getframerate(), handle.readframes(handle.getnframes())
    speech = np.frombuffer(raw, dtype=np.int16).astype(np.float32) / 32768.0
    positions = np.linspace(0, len(speech) - 1, round(len(speech) * SAMPLE_RATE / rate))
    resampled: npt.NDArray[np.float32] = np.interp(positions, np.arange(len(speech)), speech)
    return resampled.astype(np.float32)


def _placeholder_speech(text: str, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A voice-like placeholder when no TTS engine is installed: glottal pulses through vowel
    formants at four syllables a second (``media.speechlike``), as long as the line takes to say at
    a normal rate, so the gate's speech check hears speech where the shot has a line."""
    words = max(1, spoken_words(text))
    seed = int(rng.integers(2**31))
    return speechlike(spoken_length_s(words), SAMPLE_RATE, seed=seed, peak=1.0)


DIALOGUE_BED_DB = -12.0
"""How far the ambient bed sits under a clip's spoken line, as a dialogue mix keeps it: at the
bed's ambient-only level a one-word line rose only ~9 dB above it, under the gate's 10 dB level
spread (``DetectorConfig.speech_level_spread_db``), and was rejected as ``missing_speech``."""


def audio_track(
    request: GenerationRequest, samples: int, seed: int
) -> tuple[npt.NDArray[np.float32], str]:
    """Stereo float32 ``(2, samples)`` audio and a note on how speech was made."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples, dtype=np.float32) / SAMPLE_RATE
    noise = rng.standard_normal(samples).astype(np.float32)
    kernel = np.ones(64, np.float32) / 64
    bed = 0.05 * np.convolve(noise, kernel, mode="same") * 4
    base_hz = 110 + (seed % 5) * 27.5
    bed += 0.06 * np.sin(2 * np.pi * base_hz * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t))
    note = "ambient"
    if request.dialogue:
        speech = _espeak_wave(request.dialogue)
        note = "espeak-ng"
        if speech is None:
            speech, note = _placeholder_speech(request.dialogue, rng), "placeholder-voice"
        start = min(int(0.2 * SAMPLE_RATE), samples)
        speech = speech[: samples - start]
        bed *= np.float32(10 ** (DIALOGUE_BED_DB / 20))
        bed[start : start + len(speech)] += 0.8 * speech
    left = bed
    right = np.roll(bed, 37)
    return np.clip(np.stack([left, right]), -1.0, 1.0).astype(np.float32), note


OPENCV_MATRIX = 6
"""``AVCOL_SPC_SMPTE170M`` (BT.601): the matrix of OpenCV's ``COLOR_BGR2YUV_I420``, measured: white
235/128/128, black 16/128/128, (R, G, B) = (200, 30, 40) as Y'CbCr 86/107/202."""
OPENCV_RANGE = 1
"""``AVCOL_RANGE_MPEG``: limited range, as ``OPENCV_MATRIX`` measures."""


def video_stream(container: av.container.OutputContainer, request: GenerationRequest) -> Any:
    rate = fps_fraction(request.fps)
    video = container.add_stream("libx264", rate=rate)
    video.width, video.height, video.pix_fmt = request.width, request.height, "yuv420p"
    video.time_base = 1 / rate
    # ultrafast with one thread: fast, and byte-for-byte deterministic for the same request
    video.codec_context.options = {
        "preset": "ultrafast",
        "crf": "26",
        "g": str(max(1, round(request.fps))),
    }
    video.codec_context.thread_count = 1
    # every frame is converted by OpenCV's COLOR_BGR2YUV_I420, which is BT.601 at limited range:
    # tagged so, an HD render is not read as BT.709 (what players assume for untagged HD)
    video.codec_context.colorspace = OPENCV_MATRIX
    video.codec_context.color_range = OPENCV_RANGE
    return video


def audio_stream(container: av.container.OutputContainer) -> Any:
    """AAC with FFmpeg's fast coder, as the stitcher's (``OutputProfile.aac_coder``): the default
    two-loop coder took 0.15 s of a 4 s 720p animatic's 0.7 s."""
    audio = container.add_stream("aac", rate=SAMPLE_RATE)
    audio.codec_context.options = {"aac_coder": "fast"}
    return audio


def render_animatic(request: GenerationRequest, out: Path, *, annotate: bool = True) -> Path:
    """Render ``request`` to ``out`` (written atomically) and return ``out``. ``annotate``: the
    storyboard animatic's shot id, prompt and frame stamp; without it the clip shows only the
    text its prompt asks for, as a hosted model's does (what the emulators serve)."""
    total, seed = frame_count(request.duration_s, request.fps), request_seed(request)
    base = first_frame(request)
    if base is None:
        base = _gradient(request.width, request.height, *_palette(request.prompt, seed))
    captions = _captions(request, base, total) if annotate else _shown(request, base)
    motion_of = ((seed % 1000) / 1000, disc_band(captions, request.height))
    # the moving disc must stand out on light palettes too, or the gate sees a frozen clip
    ink = (40, 40, 40) if float(base[::8, ::8].mean()) > 150 else (255, 255, 255)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial.mp4")
    with av.open(str(partial), "w", format="mp4") as container:
        video = video_stream(container, request)
        audio = audio_stream(container) if request.audio else None
        for index in range(total):
            frame = _draw_frame(base, index, request, motion_of, ink)
            for caption, is_stamp in captions:
                caption.apply(
                    frame, f"{index:04d}  frame {index + 1}/{total}" if is_stamp else None
                )
            yuv = np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420), np.uint8)
            picture = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            picture.pts = index
            container.mux(video.encode(picture))
        container.mux(video.encode(None))
        if audio is not None:
            samples = round(total / fps_fraction(request.fps) * SAMPLE_RATE)
            encode_audio(container, audio, audio_track(request, samples, seed)[0])
    partial.replace(out)
    return out


def _espeak_wave_available() -> bool:
    return bool(shutil.which("espeak-ng") or shutil.which("espeak"))


def encode_audio(
    container: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    track: npt.NDArray[np.float32],
) -> None:
    chunk = 1024
    for start in range(0, track.shape[1], chunk):
        piece = np.ascontiguousarray(track[:, start : start + chunk])
        frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
