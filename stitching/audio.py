"""Programme audio: sample-exact mix of the segments' PCM, loudness to target, one AAC encode.

Audio is lossy-encoded exactly once, here, from float PCM; the per-segment AAC is never re-encoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from stitching.errors import StitchError
from stitching.ffmpeg import run_ffmpeg, run_ffmpeg_stdout
from stitching.plan import EditPlan, MusicBed, ShotPlan
from stitching.profile import OutputProfile

Pcm = npt.NDArray[np.float32]
SILENT_LUFS = -69.0
PEAK_HEADROOM_DB = 1.0
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
        [*args, "-af", "ebur128=peak=true", "-f", "null", "-"],
        stdin=pcm.tobytes(),
        loglevel="info",
    )
    return parse_ebur128(stderr)


def measure_file(path: Path) -> Loudness:
    args = ["-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true", "-f", "null", "-"]
    return parse_ebur128(run_ffmpeg(args, loglevel="info"))


def _ramp(n: int, rising: bool) -> Pcm:
    ramp = ((np.arange(n, dtype=np.float32) + 0.5) / max(n, 1)).astype(np.float32)
    return ramp if rising else ramp[::-1].copy()


def _edge(n: int, kind: str, rising: bool) -> Pcm:
    """Gain over an overlap: linear crossfade, or (fade through black) silence at the middle."""
    if kind != "fade":
        return _ramp(n, rising)
    half = n // 2
    zeros = np.zeros(half if rising else n - half, dtype=np.float32)
    ramp = _ramp(n - half if rising else half, rising)
    return np.concatenate([zeros, ramp] if rising else [ramp, zeros])


def _envelope(plan: EditPlan, index: int) -> Pcm:
    shot = plan.shots[index]
    env = np.ones(shot.segment.samples, dtype=np.float32)
    if shot.transition.kind != "cut":
        n = plan.profile.samples_for(shot.transition_frames)
        kind = "crossfade" if index == 0 else shot.transition.kind
        env[:n] *= _edge(n, kind, rising=True)
    if index + 1 < len(plan.shots) and plan.shots[index + 1].transition.kind != "cut":
        following = plan.shots[index + 1]
        n = plan.profile.samples_for(following.transition_frames)
        env[len(env) - n :] *= _edge(n, following.transition.kind, rising=False)
    return env


def _load(shot: ShotPlan) -> Pcm:
    pcm = np.fromfile(shot.segment.audio_path, dtype=np.float32).reshape(-1, 2)
    if len(pcm) != shot.segment.samples:
        raise StitchError(
            f"shot {shot.shot_id}: {shot.segment.audio_path} has {len(pcm)} samples, "
            f"segment says {shot.segment.samples}"
        )
    return pcm


def mix(plan: EditPlan) -> Pcm:
    """Overlap-add every shot's PCM at its sample offset with its transition envelope."""
    total = plan.total_samples
    buffer = np.zeros((total, 2), dtype=np.float32)
    for index, shot in enumerate(plan.shots):
        pcm = _load(shot) * _envelope(plan, index)[:, None]
        end = min(total, shot.sample_in + len(pcm))
        buffer[shot.sample_in : end] += pcm[: end - shot.sample_in]
    if plan.music is not None:
        buffer += music_bed(plan.music, buffer, plan.profile.sample_rate)
    return buffer


def _smooth(values: Pcm, width: int) -> Pcm:
    kernel = np.ones(width, dtype=np.float32) / width
    return np.convolve(values, kernel, mode="same").astype(np.float32)


def music_bed(music: MusicBed, foreground: Pcm, sample_rate: int) -> Pcm:
    """Music looped to length at ``gain_db``, ducked by ``duck_db`` where the shots have sound."""
    raw = run_ffmpeg_stdout(
        ["-stream_loop", "-1", "-i", str(music.path), "-map", "0:a:0", "-t",
         f"{len(foreground) / sample_rate:.6f}", "-ac", "2", "-ar", str(sample_rate),
         "-f", "f32le", "pipe:1"]
    )  # fmt: skip
    bed = np.zeros_like(foreground)
    samples = np.frombuffer(raw, dtype=np.float32).reshape(-1, 2)[: len(bed)]
    bed[: len(samples)] = samples
    hop = sample_rate // 20
    blocks = len(foreground) // hop + 1
    padded = np.zeros((blocks * hop, 2), dtype=np.float32)
    padded[: len(foreground)] = foreground
    rms = np.sqrt(np.mean(padded.reshape(blocks, hop * 2) ** 2, axis=1))
    speaking = (rms > 10 ** (-45 / 20)).astype(np.float32)
    duck = _smooth(speaking, 6)
    gain_db = music.gain_db + music.duck_db * np.repeat(duck, hop)[: len(bed)]
    return (bed * (10 ** (gain_db / 20))[:, None]).astype(np.float32)


def gain_for(measured: Loudness, profile: OutputProfile) -> tuple[float, bool]:
    """(gain in dB, whether a true-peak limiter is needed) to reach the profile's loudness."""
    if measured.silent:
        return 0.0, False
    gain = profile.loudness_lufs - measured.integrated
    ceiling = profile.true_peak_db - PEAK_HEADROOM_DB
    return gain, measured.true_peak + gain > ceiling


def true_peaks(pcm: Pcm, taps: int = 8) -> Pcm:
    """Per-sample peak of a 4x windowed-sinc oversampling of ``pcm`` (both channels)."""
    peak = np.abs(pcm).max(axis=1)
    offsets = np.arange(-taps + 1, taps + 1, dtype=np.float64)
    for phase in (0.25, 0.5, 0.75):
        x = offsets - phase
        kernel = (np.sinc(x) * (0.5 + 0.5 * np.cos(np.pi * x / taps))).astype(np.float32)
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


def normalise_loudness(pcm: Pcm, profile: OutputProfile) -> tuple[Pcm, dict[str, float | bool]]:
    """Gain to the target; if that overshoots the true-peak ceiling, limit and re-measure."""
    measured = first = measure_pcm(pcm, profile.sample_rate)
    gain, needs_limiter = gain_for(measured, profile)
    result = (pcm * np.float32(10 ** (gain / 20))).astype(np.float32)
    ceiling = profile.true_peak_db - PEAK_HEADROOM_DB
    for _ in range(3 if needs_limiter else 0):
        limited = limit(result, ceiling, profile.sample_rate)
        measured = measure_pcm(limited, profile.sample_rate)
        error = profile.loudness_lufs - measured.integrated
        if abs(error) < 0.3:
            break
        gain += error
        result = (pcm * np.float32(10 ** (gain / 20))).astype(np.float32)
    if needs_limiter:
        result = limited
    report: dict[str, float | bool] = {
        "mix_lufs": first.integrated,
        "mix_true_peak_db": first.true_peak,
        "gain_db": round(gain, 2),
        "limited": needs_limiter,
    }
    return result, report
