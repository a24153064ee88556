"""Checks against the request (size, aspect, fps, duration, audio) and the audio detectors."""

from __future__ import annotations

import numpy as np

from quality.analysis import ClipAnalysis
from quality.audio import AudioSeries
from quality.events import Finding, Severity, position, runs
from quality.expectation import ClipExpectation
from quality.policy import DetectorConfig


def expected_duration(expect: ClipExpectation) -> float:
    """The duration a provider will actually deliver: the requested one, or the smallest grid step
    at least as long (the stitcher trims the excess)."""
    if not expect.duration_grid:
        return expect.duration_s
    longer = [g for g in expect.duration_grid if g >= expect.duration_s - 1e-6]
    return min(longer) if longer else max(expect.duration_grid)


def check_integrity(clip: ClipAnalysis, cfg: DetectorConfig) -> list[Finding]:
    info = clip.info
    if clip.error or info.error:
        return [Finding("undecodable", f"file cannot be decoded: {clip.error or info.error}")]
    if not info.has_video or clip.video is None:
        return [Finding("no_video", "file has no video stream")]
    video = clip.video
    declared = info.video_duration_s or info.duration_s
    missing = declared - video.end_s
    tolerance = cfg.truncation_tolerance_frames * video.frame_s
    if missing > tolerance or (clip.decode_errors and missing > video.frame_s * 0.5):
        return [
            Finding(
                "truncated",
                f"decoding stopped at {video.end_s:.2f}s of {declared:.2f}s "
                f"({clip.decode_errors} decode errors)",
                video.end_s,
                declared,
                "error",
                missing,
            )
        ]
    if clip.damaged is not None:
        start, end = clip.damaged
        message = (
            f"{clip.video_failures} video packets failed to decode: pictures from {start:.2f}s "
            f"to {end:.2f}s are missing or damaged (until the next keyframe)"
        )
        return [Finding("corrupt_video", message, start, end, "error", clip.video_failures)]
    if clip.decode_errors:
        return [
            Finding(
                "decode_errors",
                f"{clip.decode_errors} packets failed to decode",
                severity="warning",
                value=clip.decode_errors,
            )
        ]
    return []


def check_request(
    clip: ClipAnalysis, expect: ClipExpectation, cfg: DetectorConfig
) -> list[Finding]:
    info = clip.info
    out: list[Finding] = []
    if info.rotation:
        message = f"display matrix rotates by {info.rotation} degrees"
        out.append(Finding("rotated", message, severity="info", value=info.rotation))
    out += _check_size(info.display_size, expect, cfg)
    measured_fps = (
        1.0 / clip.video.frame_s if clip.video is not None and clip.video.frame_s else 0.0
    )
    fps = info.fps or measured_fps
    if expect.fps and fps and abs(fps - expect.fps) / expect.fps > cfg.fps_tolerance:
        severity: Severity = "error" if fps < expect.fps * 0.9 else "warning"
        message = f"{fps:.3f} fps, requested {expect.fps:g}"
        out.append(Finding("wrong_fps", message, severity=severity, value=fps))
    out += _check_timing(clip)
    out += _check_duration(clip, expect)
    return out


def _check_timing(clip: ClipAnalysis) -> list[Finding]:
    """Variable frame rate, from the header or from the decoded timestamps (gaps, jitter)."""
    jitter = 1.0
    if clip.video is not None and clip.video.times.size > 2:
        steps = np.diff(clip.video.times)
        jitter = float(steps.max() / max(float(np.median(steps)), 1e-9))
    if clip.info.vfr or jitter > 1.5:
        message = f"variable frame rate (longest frame interval {jitter:.1f}x the median)"
        return [Finding("vfr", message, severity="info", value=jitter)]
    return []


def _check_size(
    size: tuple[int, int], expect: ClipExpectation, cfg: DetectorConfig
) -> list[Finding]:
    """Aspect (systematic) and pixel size (an error only when smaller than requested)."""
    width, height = size
    if not width or not height or (width, height) == (expect.width, expect.height):
        return []
    out = []
    ratio, wanted = width / height, expect.width / expect.height
    if abs(ratio - wanted) / wanted > cfg.aspect_tolerance:
        message = (
            f"aspect {width}x{height} ({ratio:.3f}) but "
            f"{expect.width}x{expect.height} ({wanted:.3f}) requested"
        )
        out.append(Finding("wrong_aspect", message, value=ratio))
    smaller = width * height < expect.width * expect.height
    message = f"size {width}x{height}, requested {expect.width}x{expect.height}"
    severity: Severity = "error" if smaller else "warning"
    out.append(Finding("wrong_size", message, severity=severity, value=width * height))
    return out


def _check_duration(clip: ClipAnalysis, expect: ClipExpectation) -> list[Finding]:
    if clip.video is None:
        return []
    measured = clip.video.end_s
    wanted = expected_duration(expect)
    frame = 1.0 / expect.fps if expect.fps else clip.video.frame_s
    if measured < min(wanted, expect.duration_s) - frame - 1e-6:
        return [
            Finding(
                "short_duration",
                f"{measured:.3f}s, requested {wanted:.3f}s",
                measured,
                wanted,
                "error",
                measured,
            )
        ]
    if measured > wanted + frame + 1e-6:
        return [
            Finding(
                "long_duration",
                f"{measured:.3f}s, requested {wanted:.3f}s",
                severity="info",
                value=measured,
            )
        ]
    return []


def check_audio(clip: ClipAnalysis, expect: ClipExpectation, cfg: DetectorConfig) -> list[Finding]:
    audio = clip.audio
    if audio is None or audio.duration_s == 0:
        if expect.audio == "required":
            return [Finding("missing_audio", "audio required but the clip has no audio track")]
        return []
    silent = audio.level_db < cfg.silence_db
    silent_share = float(silent.mean()) if silent.size else 1.0
    if silent_share >= cfg.silent_share:
        if expect.audio == "required":
            return [
                Finding(
                    "silent_audio",
                    f"audio track is silent ({silent_share:.0%} of blocks)",
                    value=silent_share,
                )
            ]
        return []
    out: list[Finding] = []
    if expect.audio == "none":
        out.append(Finding("unexpected_audio", "audio present but none requested", severity="info"))
    out += _dropouts(audio, silent, cfg)
    if audio.clipped_share >= cfg.audio_clip_share:
        out.append(
            Finding(
                "audio_clipping",
                f"{audio.clipped_share:.2%} of samples at full scale",
                severity="warning",
                value=audio.clipped_share,
            )
        )
    if clip.video is not None:
        out += _av_mismatch(audio.duration_s, clip.video.end_s, cfg)
    return out


def _dropouts(audio: AudioSeries, silent: np.ndarray, cfg: DetectorConfig) -> list[Finding]:
    min_blocks = max(1, round(cfg.dropout_min_s / audio.block_s))
    out = []
    for run in runs(silent, min_blocks):
        start, end = run.first * audio.block_s, (run.last + 1) * audio.block_s
        if position(start, end, audio.duration_s, audio.block_s * 0.5) != "middle":
            continue
        out.append(
            Finding(
                "audio_dropout",
                f"audio drops out for {end - start:.2f}s",
                start,
                end,
                "error",
                end - start,
            )
        )
    return out


def _av_mismatch(audio_s: float, video_s: float, cfg: DetectorConfig) -> list[Finding]:
    gap = audio_s - video_s
    if abs(gap) <= cfg.av_tolerance_s:
        return []
    severity: Severity = "error" if abs(gap) > cfg.av_error_s else "warning"
    return [
        Finding(
            "av_mismatch",
            f"audio {audio_s:.3f}s vs video {video_s:.3f}s",
            severity=severity,
            value=gap,
        )
    ]
