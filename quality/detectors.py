"""Video detectors. Each reads the same ``VideoSeries`` from the single decode and returns typed
findings with closed intervals; overlaps are resolved here (black wins over freeze and exposure)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from quality.accumulate import VideoSeries
from quality.events import Finding, position, run_interval, runs, subtract
from quality.policy import DetectorConfig

Interval = tuple[float, float]


def _frames(seconds: float, series: VideoSeries) -> int:
    return max(1, round(seconds / series.frame_s))


def _placed(code: str, start: float, end: float, series: VideoSeries) -> str:
    where = position(start, end, series.end_s, eps=series.frame_s * 0.5)
    suffix = {"head": "_head", "tail": "_tail", "whole": "_clip", "middle": "_middle"}[where]
    if code == "freeze":
        return {"_head": "freeze_head", "_tail": "freeze_tail", "_clip": "frozen_clip"}.get(
            suffix, "freeze"
        )
    return code + suffix


def black_runs(series: VideoSeries, cfg: DetectorConfig) -> list[Interval]:
    found = runs(series.black, _frames(cfg.black_min_s, series))
    return [run_interval(r, series.times, series.end_s) for r in found]


def detect_black(series: VideoSeries, cfg: DetectorConfig) -> list[Finding]:
    out = []
    for start, end in black_runs(series, cfg):
        code = _placed("black", start, end, series)
        out.append(
            Finding(code, f"black frames for {end - start:.2f}s", start, end, "error", end - start)
        )
    return out


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def detect_freeze(series: VideoSeries, cfg: DetectorConfig, black: list[Interval]) -> list[Finding]:
    """Frames identical to the one ``freeze_lag_s`` earlier (the previous one at 30 fps or less;
    at 1000 fps consecutive frames of a moving picture differ by almost nothing), and timestamp
    gaps (the last picture is held). A run covers the frames from the first frozen picture (the
    one a near-zero difference was taken to) and closes at EOF when it reaches the end."""
    still = np.flatnonzero(series.held <= cfg.freeze_mad)
    cover = np.zeros(series.held.size + 1, np.int64)
    np.add.at(cover, series.held_from[still], 1)
    np.add.at(cover, still + 1, -1)
    start_mask = np.cumsum(cover[:-1]) > 0
    held = [run_interval(run, series.times, series.end_s) for run in runs(start_mask, 2)]
    gaps = np.flatnonzero(np.diff(series.times) >= cfg.freeze_min_s)
    held += [(float(series.times[i]), float(series.times[i + 1])) for i in gaps]
    out = []
    for interval in _merge(held):
        for start, end in subtract(interval, black):
            if end - start < cfg.freeze_min_s - series.frame_s * 0.5:
                continue
            code = _placed("freeze", start, end, series)
            message = f"frozen picture for {end - start:.2f}s"
            out.append(Finding(code, message, start, end, "error", end - start))
    return out


def detect_flicker(
    series: VideoSeries, cfg: DetectorConfig, black: list[Interval]
) -> list[Finding]:
    """Brightness that alternates up and down frame after frame (not a fade or a cut)."""
    diff = np.diff(series.mean.astype(np.float64))
    if diff.size < 3:
        return []
    big = np.abs(diff) >= cfg.flicker_delta
    flips = big[1:] & big[:-1] & (np.sign(diff[1:]) != np.sign(diff[:-1]))
    window = max(2, _frames(cfg.flicker_window_s, series))
    counts = np.convolve(flips.astype(np.int32), np.ones(window, np.int32), mode="same")
    hot = counts >= cfg.flicker_min_alternations
    out = []
    for run in runs(hot):
        first, last = run.first, min(run.last + 2, series.times.size - 1)
        start, end = float(series.times[first]), float(series.times[last]) + series.frame_s
        if subtract((start, end), black) != [(start, end)]:
            continue
        value = float(flips[run.first : run.last + 1].sum())
        out.append(
            Finding("flicker", "brightness flickers frame to frame", start, end, "error", value)
        )
    return out


def detect_cuts(series: VideoSeries, cfg: DetectorConfig, black: list[Interval]) -> list[Finding]:
    """An abrupt change inside the shot: a difference spike well above its neighbourhood, confirmed
    by a histogram change, not adjacent to a black run."""
    mad = series.mad.astype(np.float64)
    mad[~np.isfinite(mad)] = 0.0
    out = []
    candidates = np.flatnonzero((mad >= cfg.cut_mad) & (series.hist_delta >= cfg.cut_hist))
    for i in (int(c) for c in candidates):
        lo, hi = max(1, i - 5), min(int(mad.size), i + 6)
        neighbours = np.delete(mad[lo:hi], i - lo)
        if neighbours.size and mad[i] < cfg.cut_ratio * max(float(np.median(neighbours)), 1.0):
            continue
        t = float(series.times[i])
        near_black = any(
            s - series.frame_s * 1.5 <= t <= e + series.frame_s * 1.5 for s, e in black
        )
        if series.black[i] or series.black[i - 1] or near_black:
            continue
        out.append(
            Finding("cut", f"abrupt cut inside the shot at {t:.2f}s", t, t, "error", float(mad[i]))
        )
    return out


def _sample_times(series: VideoSeries) -> npt.NDArray[np.float64]:
    return series.times[series.sample_index]


def detect_blur(series: VideoSeries, cfg: DetectorConfig, black: list[Interval]) -> list[Finding]:
    """Sharpness against the clip's own median at a fixed analysis size, plus an absolute floor."""
    keep = ~series.black[series.sample_index]
    sharp = series.sharpness[keep]
    if sharp.size < 2:
        return []
    times = _sample_times(series)[keep]
    median = float(np.median(sharp))
    out = []
    if median < cfg.blur_floor:
        out.append(
            Finding(
                "soft_clip",
                f"whole clip is soft (sharpness {median:.1f})",
                None,
                None,
                "warning",
                median,
            )
        )
    step = (
        series.frame_s * series.sample_index[1] if series.sample_index.size > 1 else series.frame_s
    )
    min_samples = max(1, round(cfg.blur_min_s / step))
    for run in runs(sharp < cfg.blur_ratio * median, min_samples):
        start = float(times[run.first])
        end = float(times[run.last + 1]) if run.last + 1 < times.size else series.end_s
        value = float(sharp[run.first : run.last + 1].mean() / max(median, 1e-6))
        out.append(
            Finding(
                "blur",
                f"blurred for {end - start:.2f}s ({value:.0%} of median sharpness)",
                start,
                end,
                "error",
                value,
            )
        )
    return out


def detect_exposure(series: VideoSeries, cfg: DetectorConfig) -> list[Finding]:
    visible = ~series.black
    if not visible.any():
        return []
    out = []
    for code, share, what in (
        ("underexposed", series.crushed, "crushed blacks"),
        ("overexposed", series.blown, "blown highlights"),
    ):
        hit = (share >= cfg.exposure_share) & visible
        fraction = float(hit.sum()) / float(visible.sum())
        if fraction >= cfg.exposure_min_clip_share:
            message = f"{what} in {fraction:.0%} of frames (mean share {float(share[visible].mean()):.0%})"
            out.append(Finding(code, message, None, None, "warning", fraction))
    return out


def _bars(profile: npt.NDArray[np.float32], level: int) -> tuple[int, int]:
    lit = np.flatnonzero(profile > level)
    if lit.size == 0:
        return 0, 0
    return int(lit[0]), int(profile.size - 1 - lit[-1])


def detect_bars(series: VideoSeries, cfg: DetectorConfig, rotation: int) -> list[Finding]:
    """Letterbox (bars top and bottom) or pillarbox (left and right), in display orientation."""
    if series.row_max.size == 0:
        return []
    top, bottom = _bars(series.row_max, cfg.bar_level)
    left, right = _bars(series.col_max, cfg.bar_level)
    rows, cols = series.row_max.size, series.col_max.size
    horizontal = (top / rows, bottom / rows)
    vertical = (left / cols, right / cols)
    active = (series.width * (1 - sum(vertical)), series.height * (1 - sum(horizontal)))
    if rotation % 180 == 90:
        horizontal, vertical = vertical, horizontal
        active = (active[1], active[0])
    out = []
    for code, pair in (("letterbox", horizontal), ("pillarbox", vertical)):
        if min(pair) >= cfg.bar_min_share:
            share = sum(pair)
            message = (
                f"{code} bars cover {share:.0%} of the picture; active picture about "
                f"{active[0]:.0f}x{active[1]:.0f} ({active[0] / max(active[1], 1.0):.2f}:1)"
            )
            out.append(Finding(code, message, None, None, "error", share))
    return out


def detect_low_motion(series: VideoSeries, cfg: DetectorConfig, frozen: bool) -> list[Finding]:
    motion = series.motion[np.isfinite(series.motion)]
    if motion.size < 2 or frozen:
        return []
    still = float(np.mean(motion < cfg.motion_floor))
    if still < cfg.motion_min_pair_share:
        return []
    median = float(np.median(motion))
    return [
        Finding(
            "low_motion",
            f"almost no motion (median flow {median:.2f}px)",
            None,
            None,
            "warning",
            median,
        )
    ]


def detect_video(series: VideoSeries, cfg: DetectorConfig, rotation: int) -> list[Finding]:
    black = black_runs(series, cfg)
    findings = detect_black(series, cfg)
    freezes = detect_freeze(series, cfg, black)
    findings += freezes
    findings += detect_flicker(series, cfg, black)
    findings += detect_cuts(series, cfg, black)
    findings += detect_blur(series, cfg, black)
    findings += detect_exposure(series, cfg)
    findings += detect_bars(series, cfg, rotation)
    whole = any(f.code in ("frozen_clip", "black_clip") for f in findings)
    findings += detect_low_motion(series, cfg, whole)
    return findings
