"""Loudness (EBU R128 via FFmpeg's ``ebur128``) and a look-ahead true-peak limiter, on float PCM."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from media.runner import run_ffmpeg
from stitching.errors import StitchError
from stitching.profile import OutputProfile

Pcm = npt.NDArray[np.float32]
SILENT_LUFS = -69.0
PEAK_HEADROOM_DB = 1.0
EBUR128_OPTIONS = {"peak": "true", "framelog": "verbose"}  # summary only at log level info
EBUR128 = "ebur128=" + ":".join(f"{k}={v}" for k, v in EBUR128_OPTIONS.items())
_SUMMARY = {
    "integrated": r"I:\s+(-?[\d.]+|-inf) LUFS",
    "threshold": r"Threshold:\s+(-?[\d.]+|-inf) LUFS",
    "lra": r"LRA:\s+(-?[\d.]+|-inf) LU",
    "true_peak": r"Peak:\s+(-?[\d.]+|-inf) dBFS",
}


@dataclass(frozen=True)
class Loudness:
    integrated: float
    true_peak: float
    lra: float
    threshold: float

    @property
    def silent(self) -> bool:
        return self.integrated <= SILENT_LUFS


def parse_ebur128(stderr: str) -> Loudness:
    """Read the ``Summary:`` block that ``ebur128=peak=true`` prints at the end."""
    _, _, summary = stderr.rpartition("Summary:")
    values: dict[str, float] = {}
    for key, pattern in _SUMMARY.items():
        match = re.search(pattern, summary)
        if match is None:
            raise StitchError(f"ebur128 printed no {key}: {summary[-300:]!r}")
        values[key] = float(match[1])
    return Loudness(**values)


def measure_pcm(pcm: Pcm, sample_rate: int) -> Loudness:
    args = ["-f", "f32le", "-ar", str(sample_rate), "-ac", "2", "-i", "pipe:0"]
    stderr = run_ffmpeg(
        [*args, "-af", EBUR128, "-f", "null", "-"],
        stdin=pcm.tobytes(),
        loglevel="info",
    )
    return parse_ebur128(stderr)


def measure_file(path: Path) -> Loudness:
    args = ["-i", str(path), "-map", "0:a:0", "-af", EBUR128, "-f", "null", "-"]
    return parse_ebur128(run_ffmpeg(args, loglevel="info"))


def gain_for(measured: Loudness, profile: OutputProfile) -> tuple[float, bool]:
    """(gain in dB, whether a true-peak limiter is needed) to reach the profile's loudness."""
    if measured.silent:
        return 0.0, False
    gain = profile.loudness_lufs - measured.integrated
    ceiling = profile.true_peak_db - PEAK_HEADROOM_DB
    return gain, measured.true_peak + gain > ceiling


def _kernels(taps: int) -> list[Pcm]:
    """The windowed-sinc taps interpolating at 1/4, 1/2 and 3/4 of a sample."""
    offsets = np.arange(-taps + 1, taps + 1, dtype=np.float64)
    kernels = []
    for phase in (0.25, 0.5, 0.75):
        x = offsets - phase
        kernels.append((np.sinc(x) * (0.5 + 0.5 * np.cos(np.pi * x / taps))).astype(np.float32))
    return kernels


def peak_bound(taps: int = 8) -> float:
    """How far above the largest sample ``true_peaks`` can reach (each interpolated point is a
    weighted sum of samples: at most the largest times the sum of its taps' magnitudes)."""
    return max(1.0, *(float(np.abs(kernel).sum()) for kernel in _kernels(taps)))


def true_peaks(pcm: Pcm, taps: int = 8) -> Pcm:
    """Per-sample peak of a 4x windowed-sinc oversampling of ``pcm`` (both channels)."""
    peak = np.abs(pcm).max(axis=1)
    for kernel in _kernels(taps):
        for channel in range(pcm.shape[1]):
            between = np.convolve(pcm[:, channel], kernel[::-1], mode="same")
            peak = np.maximum(peak, np.abs(between))
    result: Pcm = peak.astype(np.float32)
    return result


def _window_min(values: Pcm, width: int) -> Pcm:
    """``out[n] = min(values[n : n + width])`` in O(n) (van Herk / Gil-Werman)."""
    n = len(values)
    size = -(-(n + width) // width) * width
    padded = np.ones(size, dtype=np.float32)
    padded[:n] = values
    blocks = padded.reshape(-1, width)
    prefix = np.minimum.accumulate(blocks, axis=1).ravel()
    suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    idx = np.arange(n)
    return np.minimum(suffix[idx], prefix[idx + width - 1]).astype(np.float32)


def limit(pcm: Pcm, ceiling_db: float, sample_rate: int) -> Pcm:
    """Look-ahead true-peak limiter: gain never above what keeps the oversampled peak <= ceiling."""
    width = max(1, sample_rate // 100)
    ceiling = np.float32(10 ** (ceiling_db / 20))
    needed = np.minimum(1.0, ceiling / np.maximum(true_peaks(pcm), 1e-9)).astype(np.float32)
    ahead = _window_min(needed, width)
    kernel = np.ones(width, dtype=np.float32) / width
    smooth = np.convolve(ahead, kernel)[: len(ahead)]
    smooth[: width - 1] = ahead[: width - 1].min(initial=1.0)
    limited: Pcm = (pcm * np.minimum(smooth, needed)[:, None]).astype(np.float32)
    return limited
