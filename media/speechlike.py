"""A speech-like signal without a voice or a TTS engine: a glottal pulse train (~120 Hz, with
jitter and intonation) through vowel formant resonators, one vowel per syllable, with a syllable-rate
amplitude envelope. Voice activity detectors (webrtcvad) take it for speech; it stands in for a
spoken line in the animatic and in tests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# F1-F3 (Hz) of five vowels (Peterson & Barney 1952 averages for male speakers)
VOWEL_FORMANTS = (
    (730.0, 1090.0, 2440.0),
    (270.0, 2290.0, 3010.0),
    (300.0, 870.0, 2240.0),
    (530.0, 1840.0, 2480.0),
    (570.0, 840.0, 2410.0),
)
SYLLABLES_PER_WORD = 1.6  # with 4 syllables a second: 2.5 words a second, a normal speaking rate


def _formant_response(formants: tuple[float, ...], rate: int) -> npt.NDArray[np.float64]:
    """Impulse response of parallel two-pole resonators: damped sinusoids, 30 ms long."""
    t = np.arange(int(0.03 * rate)) / rate
    out = np.zeros(t.size)
    for order, freq in enumerate(formants):
        bandwidth = 60.0 + 40.0 * order
        out += np.exp(-np.pi * bandwidth * t) * np.sin(2 * np.pi * freq * t) / (order + 1)
    return out


def speechlike(
    seconds: float,
    rate: int = 16_000,
    *,
    pitch_hz: float = 120.0,
    syllables_per_s: float = 4.0,
    seed: int = 0,
    peak: float = 0.5,
) -> npt.NDArray[np.float32]:
    """``seconds`` of mono float32 speech-like audio at ``rate``, peaking at ``peak``."""
    rng = np.random.default_rng(seed)
    total = int(seconds * rate)
    out = np.zeros(total)
    step = max(1, int(rate / syllables_per_s))
    for index, start in enumerate(range(0, total, step)):
        length = min(step, total - start)
        pitch = pitch_hz * (1.0 + 0.1 * np.sin(index))
        pulses = np.zeros(length)
        position = 0.0
        while position < length:
            pulses[int(position)] = 1.0
            position += rate / (pitch * (1.0 + 0.02 * rng.standard_normal()))
        vowel = VOWEL_FORMANTS[int(rng.integers(len(VOWEL_FORMANTS)))]
        voiced = np.convolve(pulses, _formant_response(vowel, rate))[:length]
        envelope = np.sin(np.pi * np.arange(length) / length) ** 2
        out[start : start + length] = voiced * envelope
    out += 0.002 * rng.standard_normal(total)
    scale = peak / max(float(np.abs(out).max()), 1e-9)
    return (out * scale).astype(np.float32)


def spoken_length_s(words: int, syllables_per_s: float = 4.0) -> float:
    """How long ``speechlike`` takes to say ``words`` words at ``syllables_per_s``."""
    return words * SYLLABLES_PER_WORD / syllables_per_s
