"""Where the subject is, frame by frame, and a crop path that follows it without jitter.

Measured on the normalised segment (the picture the crop applies to, at the output rate), decoded
small: each frame's grey proxy gives a weight map of motion (difference to the previous frame)
plus saliency (contrast to the frame's median), whose centroid is the raw subject centre. The path
is then a median filter (drops one-frame outliers), a forward and backward low-pass (no lag), a
dead zone (small moves keep the framing), a clamp to the frame and a bounded step per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray

from media.colour import reformat
from media.graph import Stream

ANALYSIS_WIDTH = 64
NOISE = 0.04
"""Weights under this share of full scale are noise (compression, grain) and count for nothing."""
MOTION_WEIGHT = 2.0
DEAD_ZONE = 0.08
"""Share of the crop's side the subject may drift from the framing before the crop moves."""
SMOOTHING = 0.25
"""Low-pass coefficient per frame (1: no smoothing)."""
MAX_PAN_PER_SECOND = 0.6
"""The crop moves at most this share of the frame's side per second."""

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Crop:
    """A crop window applied before a segment is normalised; ``x``/``y`` are FFmpeg expressions
    of the frame number ``n`` (``step_expression``)."""

    width: int
    height: int
    x: str
    y: str


@dataclass(frozen=True)
class SubjectTrack:
    """Raw subject centre per frame in frame pixels (``nan``: nothing stood out)."""

    frame_width: int
    frame_height: int
    x: tuple[float, ...]
    y: tuple[float, ...]


def _weights(gray: Floats, previous: Floats | None) -> Floats:
    saliency = np.abs(gray - np.median(gray)) / 255.0
    motion = np.zeros_like(gray) if previous is None else np.abs(gray - previous) / 255.0
    weights = np.where(saliency > NOISE, saliency, 0.0)
    return weights + MOTION_WEIGHT * np.where(motion > NOISE, motion, 0.0)


def _centroid(weights: Floats) -> tuple[float, float]:
    total = float(weights.sum())
    if total <= 0:
        return float("nan"), float("nan")
    rows, cols = weights.shape
    x = float((weights.sum(axis=0) * (np.arange(cols) + 0.5)).sum() / total)
    y = float((weights.sum(axis=1) * (np.arange(rows) + 0.5)).sum() / total)
    return x, y


def track_size(width: int, height: int) -> tuple[int, int]:
    """Size of the grey proxy a ``width`` x ``height`` picture is measured on."""
    small_w = min(ANALYSIS_WIDTH, width)
    return small_w, max(2, round(height * small_w / width / 2) * 2)


def track_path(segment: Path) -> Path:
    """The grey proxy written beside a segment while it is normalised (raw 8-bit frames)."""
    return segment.with_suffix(".track.gray")


def track_chain(video: Stream, width: int, height: int) -> Stream:
    """The normalised picture down to its grey proxy, in the normalise run: no extra decode."""
    small_w, small_h = track_size(width, height)
    return video.filter("scale", small_w, small_h, flags="area").filter("format", "gray")


def _proxy_frames(path: Path, width: int, height: int, frames: int) -> list[Floats] | None:
    """The proxy saved beside segment ``path``, if it is there and whole."""
    small_w, small_h = track_size(width, height)
    proxy = track_path(path)
    if not proxy.is_file() or proxy.stat().st_size != frames * small_w * small_h:
        return None
    raw = np.fromfile(proxy, dtype=np.uint8).reshape(frames, small_h, small_w)
    return list(raw.astype(np.float64))


def _decoded_frames(path: Path, width: int, height: int) -> list[Floats]:
    small_w, small_h = track_size(width, height)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return [
            reformat(frame, width=small_w, height=small_h, format="gray")
            .to_ndarray()
            .astype(np.float64)
            for frame in container.decode(stream)
        ]


def measure(path: Path, width: int, height: int, frames: int) -> SubjectTrack:
    """The subject centre of every frame of segment ``path`` (``width`` x ``height``): from the
    proxy its normalise run saved (``track_path``), else from one small decode of the file."""
    grays = _proxy_frames(path, width, height, frames) or _decoded_frames(path, width, height)
    return track_of(grays, width, height)


def track_of(grays: Sequence[Floats], width: int, height: int) -> SubjectTrack:
    """The subject centre of every grey proxy (``track_size``) of a ``width`` x ``height``
    picture, in its pixels."""
    small_w, small_h = track_size(width, height)
    xs: list[float] = []
    ys: list[float] = []
    previous: Floats | None = None
    for gray in grays:
        x, y = _centroid(_weights(gray, previous))
        xs.append(x * width / small_w)
        ys.append(y * height / small_h)
        previous = gray
    return SubjectTrack(width, height, tuple(xs), tuple(ys))


def _filled(raw: Floats, default: float) -> Floats:
    """Frames where nothing stood out keep the last centre (the first known one before it)."""
    known = np.flatnonzero(~np.isnan(raw))
    if not known.size:
        return np.full(raw.shape, default)
    index = np.maximum.accumulate(np.where(~np.isnan(raw), np.arange(raw.size), 0))
    filled = raw[index]
    filled[: known[0]] = raw[known[0]]
    return filled


def _median(values: Floats, window: int = 5) -> Floats:
    half = window // 2
    padded = np.pad(values, half, mode="edge")
    return np.array([np.median(padded[i : i + window]) for i in range(values.size)])


def _dead_zone(values: Floats, dead: float) -> Floats:
    held = np.empty_like(values)
    target = values[0]
    for index, value in enumerate(values):
        if value - target > dead:
            target = value - dead
        elif target - value > dead:
            target = value + dead
        held[index] = target
    return held


def _low_pass(values: Floats, alpha: float) -> Floats:
    out = values.copy()
    for order in (range(1, out.size), range(out.size - 2, -1, -1)):
        step = 1 if order.step > 0 else -1
        for index in order:
            out[index] = out[index - step] + alpha * (out[index] - out[index - step])
    return out


def _bounded(values: Floats, max_step: float) -> Floats:
    out = values.copy()
    for index in range(1, out.size):
        out[index] = out[index - 1] + np.clip(out[index] - out[index - 1], -max_step, max_step)
    return out


def crop_path(raw: tuple[float, ...], frame: int, crop: int, rate: Fraction) -> list[int]:
    """Top-left offset of a ``crop``-pixel window along a ``frame``-pixel side, per frame: even,
    inside the frame, following the subject centres ``raw`` smoothly. The step between two frames
    is at most ``MAX_PAN_PER_SECOND`` of the side per second (plus 2 px of rounding to even)."""
    if crop >= frame or not raw:
        return [0] * len(raw)
    centres = _filled(np.array(raw, dtype=np.float64), frame / 2)
    path = _dead_zone(_low_pass(_median(centres), SMOOTHING), DEAD_ZONE * crop)
    path = np.clip(path, crop / 2, frame - crop / 2)
    path = _bounded(path, frame * MAX_PAN_PER_SECOND / float(rate))
    corners = np.clip(np.round((path - crop / 2) / 2) * 2, 0, (frame - crop) // 2 * 2)
    return [int(c) for c in corners]


def step_expression(offsets: list[int]) -> str:
    """An FFmpeg expression of the frame number ``n`` worth ``offsets[n]`` on every frame (the
    last offset after them): a balanced tree of ``if(lt(n,k),...)`` over the runs of equal
    offsets. FFmpeg's expression parser refuses an expression nested past a fixed depth
    (``libavutil/eval.c``); the sum of one ``gte(n,k)`` per change it had before passed it on a
    12 s shot whose crop moved about 100 times (``Failed to configure input pad on Parsed_crop``:
    a 34x60 variant of a 320x180 board failed after its shots were made, explorer seed 12065;
    80 changes passed, 100 did not). The tree nests about log2 of the changes deep."""
    runs = [(0, offsets[0])] if offsets else [(0, 0)]
    runs += [(k, offsets[k]) for k in range(1, len(offsets)) if offsets[k] != offsets[k - 1]]
    return _step_tree(runs)


def _step_tree(runs: list[tuple[int, int]]) -> str:
    if len(runs) == 1:
        return str(runs[0][1])
    middle = len(runs) // 2
    first, rest = _step_tree(runs[:middle]), _step_tree(runs[middle:])
    return f"if(lt(n,{runs[middle][0]}),{first},{rest})"
