from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import av
import numpy as np

from stitching.aac import FRAME, chunk_bounds, chunk_packets, encode_aac
from tests.stitching.conftest import PROFILE


def _decode(chunks) -> np.ndarray:
    with ExitStack() as stack, av.open(str(chunks[0].path)) as first:
        decoder = av.CodecContext.create("aac", "r")
        decoder.extradata = first.streams.audio[0].codec_context.extradata
        out = []
        for packet in chunk_packets(chunks, stack):
            out += [frame.to_ndarray() for frame in decoder.decode(packet)]
        return np.concatenate(out, axis=1)


def test_bounds_fall_on_aac_frames():
    assert chunk_bounds(48000 * 4, 48000, 2) == [0, 48000 * 4]
    bounds = chunk_bounds(48000 * 20, 48000, 2)
    assert len(bounds) == 3
    assert bounds[1] % FRAME == 0


def test_parallel_chunks_splice_like_one_encode(tmp_path: Path):
    t = np.arange(48000 * 17) / 48000
    tone = (0.25 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    pcm = np.ascontiguousarray(np.stack([tone, tone], axis=1))
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    single = encode_aac(pcm, PROFILE, tmp_path / "one", workers=1)
    split = encode_aac(pcm, PROFILE, tmp_path / "two", workers=2)
    assert len(single) == 1
    assert len(split) == 2
    whole, spliced = _decode(single), _decode(split)
    assert whole.shape == spliced.shape
    assert np.abs(whole - spliced).max() < 1e-3
