"""AAC on the programme grid: stretches encoded separately splice like one continuous encode."""

from __future__ import annotations

import av
import numpy as np
import pytest

from stitching import aac
from stitching.aac import FRAME, Stretch, chunk_bounds
from tests.stitching.conftest import PROFILE


def _decode(packets) -> np.ndarray:
    decoder = av.CodecContext.create("aac", "r")
    decoder.extradata = aac.encoder(PROFILE).extradata
    out = []
    for packet in sorted(packets, key=lambda p: p.pts):
        out += [frame.to_ndarray() for frame in decoder.decode(packet)]
    return np.concatenate(out, axis=1)


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(48000 * seconds)) / 48000
    tone = (0.25 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.ascontiguousarray(np.stack([tone, tone], axis=1))


def test_bounds_fall_on_aac_frames():
    assert chunk_bounds(48000 * 4, 48000, 2) == [0, 48000 * 4]
    bounds = chunk_bounds(48000 * 20, 48000, 2)
    assert len(bounds) == 3
    assert bounds[1] % FRAME == 0


def test_parallel_chunks_splice_like_one_encode():
    pcm = _tone(17)
    whole = [Stretch(None, None)]
    single = aac.encode_stretches(lambda lo, hi: pcm[lo:hi], whole, len(pcm), PROFILE, workers=1)
    split = aac.encode_stretches(lambda lo, hi: pcm[lo:hi], whole, len(pcm), PROFILE, workers=2)
    assert [p.pts for p in single] == [p.pts for p in split]
    one, spliced = _decode(single), _decode(split)
    assert one.shape == spliced.shape
    assert np.abs(one - spliced).max() < 1e-3


def test_window_spliced_into_a_longer_encode():
    """What assembly does at a join: packets of one encode, a window of another between them."""
    pcm = _tone(3)
    base = aac.encode(pcm, 0, PROFILE)
    window = Stretch(40 * FRAME, 52 * FRAME)
    lo, hi = window.encode_range(len(pcm))
    patch = aac.keep(aac.encode(pcm[lo:hi], lo, PROFILE), window)
    assert [p.pts for p in patch] == list(range(40 * FRAME, 52 * FRAME, FRAME))
    outside = [p for p in base if not 40 * FRAME <= (p.pts or 0) < 52 * FRAME]
    one, spliced = _decode(base), _decode(outside + patch)
    assert one.shape == spliced.shape
    assert np.abs(one - spliced).max() < 1e-3


def test_encodes_start_on_the_grid():
    with pytest.raises(ValueError, match="grid"):
        aac.encode(_tone(0.1), 100, PROFILE)
