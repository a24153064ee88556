"""The free local bed (``local/music``): deterministic per prompt, quiet, as long as asked, and a
phrase of whole bars tiled, so it loops without a seam."""

from __future__ import annotations

import io
import wave

import numpy as np

from adapters.music import LOCAL_PEAK, LOCAL_RATE, _phrase, bed_samples, local_bed


def test_the_same_prompt_gives_the_same_bed_and_another_prompt_another():
    one = local_bed("slow synth pulse", 2.0)
    assert one == local_bed("  Slow   synth pulse ", 2.0)
    assert one != local_bed("bright marimba", 2.0)
    with wave.open(io.BytesIO(one)) as handle:
        assert handle.getframerate() == LOCAL_RATE
        assert handle.getnframes() == 2 * LOCAL_RATE


def test_the_bed_is_quiet_and_loops_on_its_phrase():
    rate = 8000
    samples = bed_samples("slow synth pulse", 20.0, rate)
    assert 0.05 < float(np.abs(samples).max()) <= LOCAL_PEAK + 1e-9
    period = _phrase(__import__("zlib").crc32(b"slow synth pulse"), rate).size
    middle = slice(rate, rate + 2000)  # away from the fades at both ends
    shifted = slice(middle.start + period, middle.stop + period)
    assert np.allclose(samples[middle], samples[shifted])
    assert abs(samples[0]) < 1e-3
    assert abs(samples[-1]) < 1e-3
