"""The speech check: the VAD with a level-spread test tells speech from silence, noise and tones,
and speech is compared with the shot's line."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from media.speechlike import speechlike, spoken_length_s
from quality.expectation import ClipExpectation
from quality.policy import DetectorConfig
from quality.speech import VAD_RATE, check_speech, speech_segments, voiced_frames, word_count

CFG = DetectorConfig()
RNG = np.random.default_rng(3)
T = np.arange(2 * VAD_RATE) / VAD_RATE


def pcm(signal: npt.NDArray[np.floating]) -> npt.NDArray[np.int16]:
    out: npt.NDArray[np.int16] = (np.clip(signal, -1, 1) * 32767).astype(np.int16)
    return out


def expect(speech: str, dialogue: str | None = None) -> ClipExpectation:
    return ClipExpectation(4.0, 320, 180, 12.0, "any", dialogue=dialogue, speech=speech)  # type: ignore[arg-type]


LINE = "the harbour lights are on tonight and the boats are coming home"  # 12 words, ~4.8 s


def test_speechlike_signal_is_speech_to_the_vad_and_to_the_check() -> None:
    voice = pcm(speechlike(2.0))
    assert voiced_frames(voice, 3).mean() > 0.8
    segments = speech_segments(voice, CFG)
    assert len(segments) == 1
    assert segments[0].end - segments[0].start > 1.5


@pytest.mark.parametrize(
    "signal",
    [
        np.zeros(T.size),
        0.3 * RNG.standard_normal(T.size),  # the VAD alone calls loud white noise speech
        0.01 * RNG.standard_normal(T.size),
        0.5 * np.sin(2 * np.pi * 440 * T),
        0.2 * sum(np.sin(2 * np.pi * f * T) for f in (261.6, 329.6, 392.0)),
    ],
    ids=["silence", "white-noise", "quiet-noise", "tone-440", "chord"],
)
def test_silence_noise_and_tones_are_not_speech(signal: npt.NDArray[np.float64]) -> None:
    assert speech_segments(pcm(signal), CFG) == []


@pytest.mark.parametrize("rate_hz", [4.0, 7.0])
def test_rhythmic_noise_bursts_move_like_syllables_but_have_no_pitch(rate_hz: float) -> None:
    """Bursts at a syllable rate pass the VAD and the level spread (bench_gate found both rates
    taken for speech); a voice's frames are periodic at a 70-400 Hz pitch, these are not."""
    bursts = (np.sin(2 * np.pi * rate_hz * T) > 0.3) * 0.3 * RNG.standard_normal(T.size)
    assert voiced_frames(pcm(bursts), 3).mean() > 0.3
    assert speech_segments(pcm(bursts), CFG) == []
    no_pitch = DetectorConfig(speech_voiced_share=0.0)
    assert speech_segments(pcm(bursts), no_pitch) != []  # what the pitch rule removes


def test_loud_noise_passes_the_vad_but_not_the_level_spread() -> None:
    noise = pcm(0.3 * RNG.standard_normal(T.size))
    assert voiced_frames(noise, 3).mean() > 0.9
    assert speech_segments(noise, CFG) == []


def test_dialogue_without_speech_is_missing_speech() -> None:
    findings = check_speech(
        pcm(0.3 * RNG.standard_normal(4 * VAD_RATE)), expect("required", LINE), CFG
    )
    assert [(f.code, f.severity, f.start) for f in findings] == [("missing_speech", "error", 0.0)]
    assert "12-word line" in findings[0].message


def test_speech_as_long_as_the_line_passes() -> None:
    seconds = spoken_length_s(word_count(LINE))
    assert check_speech(pcm(speechlike(seconds)), expect("required", LINE), CFG) == []


def test_speech_much_shorter_than_the_line_is_flagged_with_its_span() -> None:
    audio = np.zeros(5 * VAD_RATE)
    audio[VAD_RATE : VAD_RATE + VAD_RATE] = speechlike(1.0)
    (finding,) = check_speech(pcm(audio), expect("required", LINE), CFG)
    assert finding.code == "speech_length"
    assert finding.start == pytest.approx(1.0, abs=0.1)
    assert finding.end == pytest.approx(2.0, abs=0.1)
    assert finding.value is not None
    assert finding.value < 0.5


def test_speech_in_a_shot_without_dialogue_is_a_warning() -> None:
    (finding,) = check_speech(pcm(speechlike(2.0)), expect("none"), CFG)
    assert (finding.code, finding.severity) == ("unexpected_speech", "warning")
    assert check_speech(pcm(np.zeros(VAD_RATE)), expect("none"), CFG) == []


def test_speech_is_not_listened_to_unless_asked() -> None:
    assert check_speech(pcm(speechlike(1.0)), expect("any"), CFG) == []
    assert check_speech(None, expect("required", LINE), CFG) == []


def test_a_short_line_in_a_long_voiced_bed_is_heard() -> None:
    """Two words (0.8 s) in an 8 s clip over a steady bed the VAD takes for voice (a hum): the
    line is a tenth of the voiced stretch, so its 90th-percentile level was the bed's, the level
    spread failed, and every model's clip was rejected as ``missing_speech`` (found by
    ``benchmarks/explore_boards.py``: short lines in long shots failed after spending)."""
    t = np.arange(8 * VAD_RATE) / VAD_RATE
    bed = 0.06 * np.sin(2 * np.pi * 110 * t) + 0.01 * RNG.standard_normal(t.size)
    assert voiced_frames(pcm(bed), 3).mean() > 0.9
    line = "Hello there."
    audio = bed.copy()
    spoken = speechlike(spoken_length_s(word_count(line)), peak=0.8)
    audio[VAD_RATE : VAD_RATE + spoken.size] += spoken
    assert check_speech(pcm(audio), expect("required", line), CFG) == []
    assert speech_segments(pcm(bed), CFG) == []  # the bed alone is still no speech


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("مَرْحَبًا بِكُمْ يَا أَصْدِقَائِي", 4),  # harakat: each one split a word in two (16)
        ("שָׁלוֹם חֲבֵרִים יְקָרִים", 3),  # niqqud (11)
        ("he\u0301\u0302llo the\u0336re", 2),
        ("A state-of-the-art, up-to-date plan.", 9),  # as spoken; the placeholder voices said 4
        ("你好世界你好世界", 4),  # a run without spaces was one word
        ("We leave at dawn.", 4),
        ("नमस्ते दुनिया", 2),  # Devanagari vowel signs: marks of combining class 0 (4)
        ("தமிழ் மொழி", 2),  # Tamil (4)
        ("it\u2019s fine '", 2),  # a typographic apostrophe (3), a lone one (1 more)
    ],
)
def test_a_line_counts_as_many_words_as_it_is_spoken(line: str, words: int) -> None:
    """One count (``foundation.spoken.spoken_words``) for the gate, planning and the voices:
    with marks split off, an Arabic line of 4 words was expected to last 16 words' time, and
    every real take of it was rejected as too short."""
    assert word_count(line) == words
    said = speechlike(spoken_length_s(words))  # as a voice says it
    padded = np.zeros(len(said) + VAD_RATE)
    padded[VAD_RATE // 2 : VAD_RATE // 2 + len(said)] = said
    assert check_speech(pcm(padded), expect("required", line), CFG) == []
