"""Audio measurements from the decoded samples: block levels, silence runs, clipping and
integrated loudness (ITU-R BS.1770 K-weighting applied in the frequency domain, with gating)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from quality.policy import DetectorConfig

BLOCK_S = 0.05
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class AudioSeries:
    rate: int
    channels: int
    duration_s: float
    block_s: float
    level_db: F32  # RMS level per block, loudest channel, dBFS
    peak: float
    clipped_share: float
    loudness_lufs: float  # -inf for digital silence


def summarise_audio(decoded: tuple[F32, int], cfg: DetectorConfig) -> AudioSeries:
    samples, rate = decoded
    channels, count = samples.shape
    if count == 0 or rate <= 0:
        return AudioSeries(
            rate, channels, 0.0, BLOCK_S, np.zeros(0, np.float32), 0.0, 0.0, -math.inf
        )
    block = max(1, round(rate * BLOCK_S))
    usable = count - count % block if count >= block else count
    head = samples[:, :usable].reshape(channels, -1, min(block, usable))
    power = np.mean(head.astype(np.float64) ** 2, axis=2).max(axis=0)
    level = (10.0 * np.log10(np.maximum(power, 1e-12))).astype(np.float32)
    magnitude = np.abs(samples)
    peak = float(magnitude.max())
    clipped = float(np.count_nonzero(magnitude >= cfg.audio_clip_level)) / magnitude.size
    return AudioSeries(
        rate=rate,
        channels=channels,
        duration_s=count / rate,
        block_s=block / rate,
        level_db=level,
        peak=peak,
        clipped_share=clipped,
        loudness_lufs=integrated_loudness(samples, rate),
    )


def _biquad_response(
    b: tuple[float, float, float],
    a: tuple[float, float, float],
    z: npt.NDArray[np.complex128],
) -> npt.NDArray[np.complex128]:
    response: npt.NDArray[np.complex128] = (b[0] + b[1] * z + b[2] * z * z) / (
        a[0] + a[1] * z + a[2] * z * z
    )
    return response


@lru_cache(maxsize=8)
def k_weighting(size: int, rate: int) -> npt.NDArray[np.complex128]:
    """Response of the BS.1770 pre-filter (high shelf) and RLB high-pass on an rfft grid."""
    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    z = np.exp(-2j * np.pi * freqs / rate)
    gain_db, q_shelf, fc_shelf = 4.0, 1.0 / math.sqrt(2.0), 1500.0
    amp = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * fc_shelf / rate
    alpha = math.sin(w0) / (2.0 * q_shelf)
    cos, root = math.cos(w0), 2.0 * math.sqrt(amp) * alpha
    shelf_b = (
        amp * ((amp + 1) + (amp - 1) * cos + root),
        -2 * amp * ((amp - 1) + (amp + 1) * cos),
        amp * ((amp + 1) + (amp - 1) * cos - root),
    )
    shelf_a = (
        (amp + 1) - (amp - 1) * cos + root,
        2 * ((amp - 1) - (amp + 1) * cos),
        (amp + 1) - (amp - 1) * cos - root,
    )
    w1 = 2.0 * math.pi * 38.0 / rate
    alpha1, cos1 = math.sin(w1) / (2.0 * 0.5), math.cos(w1)
    hp_b = ((1 + cos1) / 2, -(1 + cos1), (1 + cos1) / 2)
    hp_a = (1 + alpha1, -2 * cos1, 1 - alpha1)
    return _biquad_response(shelf_b, shelf_a, z) * _biquad_response(hp_b, hp_a, z)


def _fast_length(target: int) -> int:
    """Smallest 2^a * 3^b * 5^c at least ``target`` (fast FFT sizes)."""
    best = 1 << math.ceil(math.log2(max(target, 1)))
    power5 = 1
    while power5 < best:
        power3 = power5
        while power3 < best:
            size = power3
            while size < target:
                size *= 2
            best = min(best, size)
            power3 *= 3
        power5 *= 5
    return best


def integrated_loudness(samples: F32, rate: int) -> float:
    """Gated integrated loudness in LUFS (400 ms blocks, 75 % overlap, -70 LUFS and -10 LU gates)."""
    channels, count = samples.shape
    block, hop = round(0.4 * rate), round(0.1 * rate)
    if count < block:
        return -math.inf
    size = _fast_length(count + rate // 4)
    spectrum = np.fft.rfft(samples.astype(np.float64), n=size, axis=1)
    spectrum *= k_weighting(size, rate)
    weighted = np.fft.irfft(spectrum, n=size, axis=1)[:, :count]
    squares = np.cumsum(np.concatenate([np.zeros((channels, 1)), weighted**2], axis=1), axis=1)
    starts = np.arange(0, count - block + 1, hop)
    energy = ((squares[:, starts + block] - squares[:, starts]) / block).sum(axis=0)
    loudness = -0.691 + 10.0 * np.log10(np.maximum(energy, 1e-20))
    gated = energy[loudness > -70.0]
    if gated.size == 0:
        return -math.inf
    relative = -0.691 + 10.0 * math.log10(float(gated.mean())) - 10.0
    final = energy[(loudness > -70.0) & (loudness > relative)]
    return -0.691 + 10.0 * math.log10(float(final.mean()))
