"""Saved arrays are read one file at a time (``stitching.saved``): numpy parses their headers with
``ast.literal_eval``, which CPython 3.11 does not make safe across threads (a stitch crashed in CI
with ``SystemError: AST constructor recursion depth mismatch`` while two threads read proxies)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from stitching.edges import load_edges, save_edges
from stitching.saved import read_npz
from tests.stitching.conftest import PROFILE


def test_reads_from_many_threads_never_overlap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "x.npz"
    np.savez(path, digest=np.array("abc"), frames=np.zeros((4, 9, 16), np.uint8))
    inside, most = 0, 0
    count = threading.Lock()
    real_load = np.load

    def slow_load(*args: object, **kwargs: object) -> object:
        nonlocal inside, most
        with count:
            inside += 1
            most = max(most, inside)
        time.sleep(0.005)
        with count:
            inside -= 1
        return real_load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(np, "load", slow_load)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: read_npz(path), range(32)))
    assert most == 1
    assert all(str(r["digest"]) == "abc" and r["frames"].shape == (4, 9, 16) for r in results)


def test_edge_proxies_read_back_through_it(tmp_path: Path, shots: list[Path]):
    out = tmp_path / "seg.edges.npz"
    save_edges(shots[0], 36, PROFILE.rate, 5, out, "digest-1")
    segment = tmp_path / "seg.mp4"
    assert sorted(load_edges(segment, "digest-1")) == [0, 1, 2, 3, 4, 31, 32, 33, 34, 35]
    assert load_edges(segment, "another digest") == {}
