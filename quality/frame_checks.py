"""Checks on the few RGB thumbnails the one decode keeps: image safety and no-reference image
quality. No second decode: both read ``ClipAnalysis.thumbs`` (one a second, and the last frame).

- ``unsafe_content``: the image safety classifier (``quality.image_safety``, open_nsfw) scores a
  sampled frame at or over the threshold of ``SHOTLINE_IMAGE_SAFETY_THRESHOLD``. Every frame of a
  short clip is read (at most ``safety_frames``, spread over the clip): unsafe content can last
  less than a second.
- ``low_quality``: the median NIQE (``quality.iqa``) of ``iqa_frames`` frames over ``niqe_max``,
  or the median noise level (Immerkaer's estimate) over ``noise_max``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from quality.events import Finding
from quality.iqa import MIN_SIDE, niqe
from quality.onscreen_text import sample_thumbs
from quality.policy import DetectorConfig

if TYPE_CHECKING:
    from quality.analysis import Thumb
    from quality.image_safety import FrameSafety

_LAPLACE_PAIR = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


@dataclass
class FrameSignals:
    """What the frame checks measured (the local score reads these) and their findings."""

    findings: list[Finding] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)


def noise_sigma(gray: npt.NDArray[np.uint8], edge_share: float = 0.2) -> float:
    """Immerkaer's fast noise estimate (CVIU 64(2), 1996): the mean absolute response to the
    difference of two Laplacians, scaled to the standard deviation of white Gaussian noise, over
    the pixels away from edges (the ``edge_share`` strongest Sobel gradients are left out, as Tai
    and Yang, ICCSE 2008, do), so that texture and outlines are not counted as noise."""
    image = gray.astype(np.float32)
    response = np.abs(cv2.filter2D(image, -1, _LAPLACE_PAIR)[1:-1, 1:-1])
    gradient = np.abs(cv2.Sobel(image, -1, 1, 0)) + np.abs(cv2.Sobel(image, -1, 0, 1))
    gradient = gradient[1:-1, 1:-1]
    flat = gradient <= np.quantile(gradient, 1.0 - edge_share)
    if not flat.any():
        return 0.0
    return float(math.sqrt(math.pi / 2) * response[flat].mean() / 6.0)


def spread_thumbs(thumbs: Sequence[Thumb], count: int) -> list[Thumb]:
    """``count`` thumbnails spread over the whole clip, its first and last frame included."""
    if count <= 0 or not thumbs:
        return []
    if len(thumbs) <= count:
        return list(thumbs)
    picks = np.linspace(0, len(thumbs) - 1, count).round().astype(int)
    return [thumbs[i] for i in picks]


def check_safety(thumbs: Sequence[Thumb], safety: FrameSafety, cfg: DetectorConfig) -> FrameSignals:
    picked = spread_thumbs(thumbs, cfg.safety_frames)
    out = FrameSignals()
    if not picked:
        return out
    scores = safety.classifier.unsafe_frames([t.rgb for t in picked])
    out.values["unsafe_max"] = max(scores)
    flagged = [(t, s) for t, s in zip(picked, scores, strict=True) if s >= safety.threshold]
    if flagged:
        first, worst = flagged[0][0], max(s for _, s in flagged)
        message = (
            f"{safety.classifier.name} scores {len(flagged)} of {len(picked)} sampled frames "
            f"unsafe (up to {worst:.2f}, threshold {safety.threshold:.2f})"
        )
        end = flagged[-1][0].time_s
        out.findings.append(Finding("unsafe_content", message, first.time_s, end, "error", worst))
    return out


UPSCALED_SIDE = MIN_SIDE // 2
"""A source shorter than this is upscaled more than twice into even one of NIQE's 96 px patches:
its NIQE measures the upscaling (a 120x34 animatic's thumbnails, 512x146: 84, where its 160x90
render scores 14), so neither NIQE nor the noise level is measured on it, and the local score does
not read its sharpness either (``gate._sharpness``)."""


def measure_quality(
    thumbs: Sequence[Thumb], cfg: DetectorConfig, source_side: int | None = None
) -> FrameSignals:
    """NIQE and the noise level on the sampled thumbnails at least ``MIN_SIDE`` on each side,
    from a source whose shorter side (``source_side``) is at least ``UPSCALED_SIDE``."""
    out = FrameSignals()
    if source_side is not None and source_side < UPSCALED_SIDE:
        return out
    picked = [
        t for t in sample_thumbs(list(thumbs), cfg.iqa_frames) if min(t.rgb.shape[:2]) >= MIN_SIDE
    ]
    if not picked:
        return out
    grays = [np.asarray(cv2.cvtColor(t.rgb, cv2.COLOR_RGB2GRAY), np.uint8) for t in picked]
    naturalness = [niqe(g) for g in grays]
    noise = [noise_sigma(g) for g in grays]
    out.values |= {"niqe": float(np.median(naturalness)), "noise_sigma": float(np.median(noise))}
    start, end = picked[0].time_s, picked[-1].time_s
    if out.values["niqe"] > cfg.niqe_max:
        message = f"NIQE {out.values['niqe']:.1f} over {cfg.niqe_max:g} (blur, blocking, noise)"
        out.findings.append(
            Finding("low_quality", message, start, end, "warning", out.values["niqe"])
        )
    elif out.values["noise_sigma"] > cfg.noise_max:
        message = f"noise level {out.values['noise_sigma']:.1f} over {cfg.noise_max:g} (grain)"
        out.findings.append(
            Finding("low_quality", message, start, end, "warning", out.values["noise_sigma"])
        )
    return out
