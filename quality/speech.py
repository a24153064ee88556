"""Speech in the shot's audio, measured against its dialogue.

Voice activity comes from the WebRTC VAD (``webrtcvad-wheels``, MIT; no model weights) on the
16 kHz mono track the single decode already resampled. The VAD also fires on loud stationary noise,
so a voiced stretch only counts as speech when its level moves like speech does (syllables and
pauses: a spread of at least ``speech_level_spread_db`` between its loud and quiet 30 ms frames)
and enough of its loud frames have a pitch (a periodic 70-400 Hz waveform: rhythmic noise bursts
move like syllables but have none).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from foundation.spoken import spoken_words
from quality.events import Finding, runs
from quality.expectation import ClipExpectation
from quality.policy import DetectorConfig

VAD_RATE = 16_000
VAD_FRAME_S = 0.03


@dataclass(frozen=True)
class SpeechSegment:
    start: float
    end: float


def word_count(text: str) -> int:
    return spoken_words(text)


def voiced_frames(pcm: npt.NDArray[np.int16], mode: int) -> npt.NDArray[np.bool_]:
    """The VAD's answer for each 30 ms frame of 16 kHz mono 16-bit audio."""
    import webrtcvad

    vad = webrtcvad.Vad(mode)
    size = int(VAD_RATE * VAD_FRAME_S)
    count = pcm.size // size
    frames = np.ascontiguousarray(pcm[: count * size], dtype="<i2").reshape(count, size)
    return np.fromiter((vad.is_speech(f.tobytes(), VAD_RATE) for f in frames), bool, count)


def _frame_levels(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.float64]:
    size = int(VAD_RATE * VAD_FRAME_S)
    count = pcm.size // size
    frames = pcm[: count * size].reshape(count, size).astype(np.float64) / 32768.0
    levels: npt.NDArray[np.float64] = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    return levels


def _pitched(frames: npt.NDArray[np.float64], threshold: float) -> npt.NDArray[np.bool_]:
    """Whether each frame's normalised autocorrelation peaks at a 70-400 Hz period."""
    centred = frames - frames.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=2 * frames.shape[1], axis=1)
    corr = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)
    low, high = VAD_RATE // 400, VAD_RATE // 70
    energy = np.maximum(corr[:, 0], 1e-12)
    peaks: npt.NDArray[np.bool_] = corr[:, low : high + 1].max(axis=1) / energy >= threshold
    return peaks


def _has_pitch(pcm: npt.NDArray[np.int16], first: int, last: int, cfg: DetectorConfig) -> bool:
    size = int(VAD_RATE * VAD_FRAME_S)
    frames = pcm[first * size : (last + 1) * size].astype(np.float64)
    frames = frames[: frames.size // size * size].reshape(-1, size)
    if not frames.size:
        return False
    return float(_pitched(frames, cfg.speech_periodicity).mean()) >= cfg.speech_voiced_share


def speech_segments(pcm: npt.NDArray[np.int16], cfg: DetectorConfig) -> list[SpeechSegment]:
    """Stretches of speech: voiced frames joined across pauses shorter than ``speech_gap_s``,
    at least ``speech_min_s`` long, whose level spread says speech rather than steady noise."""
    voiced = voiced_frames(pcm, cfg.vad_mode)
    if not voiced.any():
        return []
    gap = max(1, round(cfg.speech_gap_s / VAD_FRAME_S))
    for pause in runs(~voiced, 1):
        if pause.last - pause.first + 1 < gap and pause.first > 0 and pause.last < voiced.size - 1:
            voiced[pause.first : pause.last + 1] = True
    levels = _frame_levels(pcm)
    shortest = max(1, round(cfg.speech_min_s / VAD_FRAME_S))
    out = []
    for run in runs(voiced, shortest):
        stretch = levels[run.first : run.last + 1]
        floor, top = np.percentile(stretch, [10, 90])
        # a short line in a long voiced bed is under a tenth of the stretch: its top is the level
        # its loudest ``speech_min_s`` reaches, not the stretch's 90th percentile (the bed's)
        top = max(top, float(np.sort(stretch)[-shortest]))
        if top - floor < cfg.speech_level_spread_db:
            continue
        # the VAD also passes a steady bed under the voice: the speech is what rises above it
        loud = np.flatnonzero(stretch >= (floor + top) / 2)
        first, last = run.first + int(loud[0]), run.first + int(loud[-1])
        if not _has_pitch(pcm, first, last, cfg):
            continue
        out.append(SpeechSegment(first * VAD_FRAME_S, (last + 1) * VAD_FRAME_S))
    return out


def check_speech(
    pcm: npt.NDArray[np.int16] | None, expect: ClipExpectation, cfg: DetectorConfig
) -> list[Finding]:
    """``missing_speech`` / ``speech_length`` for a shot with dialogue, ``unexpected_speech`` for
    one without. Nothing when speech is not asked about or the clip has no audio (the audio checks
    already report that)."""
    if expect.speech == "any" or pcm is None or pcm.size == 0:
        return []
    segments = speech_segments(pcm, cfg)
    if expect.speech == "none":
        return _unexpected(segments)
    end_s = pcm.size / VAD_RATE
    words = word_count(expect.dialogue or "")
    if not segments:
        message = f"the shot has a {words}-word line but no speech was detected"
        return [Finding("missing_speech", message, 0.0, end_s, "error", 0.0)]
    if not words:
        return []
    start, stop = segments[0].start, segments[-1].end
    spoken = stop - start
    needed = min(words / cfg.speech_words_per_s, end_s)
    ratio = spoken / needed
    if cfg.speech_length_min_ratio <= ratio <= cfg.speech_length_max_ratio:
        return []
    message = (
        f"speech lasts {spoken:.1f}s; the {words}-word line takes about {needed:.1f}s "
        f"at {cfg.speech_words_per_s:g} words/s ({ratio:.2f}x)"
    )
    return [Finding("speech_length", message, start, stop, "error", ratio)]


def _unexpected(segments: list[SpeechSegment]) -> list[Finding]:
    if not segments:
        return []
    total = sum(s.end - s.start for s in segments)
    message = f"{total:.1f}s of speech in a shot without dialogue"
    start, stop = segments[0].start, segments[-1].end
    return [Finding("unexpected_speech", message, start, stop, "warning", total)]
