"""The gate's models are shared by parallel gates: OCR reads borrow engines of their own (a
RapidOCR pipeline keeps per-call state), at most a bounded number are built, and a warm-up builds
them ahead of the first gate."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from quality.errors import QualityError
from quality.onscreen_text import RapidTextReader

FRAME = np.zeros((32, 32, 3), np.uint8)


class FakeEngine:
    """Stands in for a RapidOCR pipeline: each call meets the other reads at a barrier."""

    def __init__(self, meet: threading.Barrier, built: list[FakeEngine]) -> None:
        self.meet = meet
        self.in_use = threading.Lock()
        built.append(self)

    def __call__(self, _bgr: Any, use_cls: bool) -> Any:
        assert self.in_use.acquire(blocking=False), "one engine served two reads at once"
        try:
            self.meet.wait()
        finally:
            self.in_use.release()
        return type("Result", (), {"txts": ("HI",), "scores": (0.9,)})()


def reader_with_fakes(
    monkeypatch: pytest.MonkeyPatch, engines: int, meet: threading.Barrier
) -> tuple[RapidTextReader, list[FakeEngine]]:
    reader, built = RapidTextReader(engines=engines), list[FakeEngine]()
    monkeypatch.setattr(reader, "_build", lambda: FakeEngine(meet, built))
    return reader, built


def test_parallel_reads_each_borrow_an_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    meet = threading.Barrier(2, timeout=5)  # passes only if two reads run at the same time
    reader, built = reader_with_fakes(monkeypatch, 2, meet)
    with ThreadPoolExecutor(2) as pool:
        lines = list(pool.map(reader.read, [FRAME, FRAME]))
    assert [line[0].text for line in lines] == ["HI", "HI"]
    assert len(built) == 2


def test_no_more_engines_than_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    meet = threading.Barrier(1)  # every read passes alone
    reader, built = reader_with_fakes(monkeypatch, 2, meet)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(reader.read, [FRAME] * 24))
    assert 1 <= len(built) <= 2


def test_one_engine_serves_reads_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    meet = threading.Barrier(2, timeout=0.5)  # two reads never meet on one engine
    reader, built = reader_with_fakes(monkeypatch, 1, meet)
    with ThreadPoolExecutor(2) as pool, pytest.raises(threading.BrokenBarrierError):
        list(pool.map(reader.read, [FRAME, FRAME]))
    assert len(built) == 1


def test_warm_up_builds_the_engines_before_any_read(monkeypatch: pytest.MonkeyPatch) -> None:
    reader, built = reader_with_fakes(monkeypatch, 4, threading.Barrier(1))
    reader.warm(2)
    assert len(built) == 2
    reader.warm(2)  # already there: nothing more is built
    assert len(built) == 2
    reader.read(FRAME)
    assert len(built) == 2


def test_a_failed_build_frees_its_place(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = RapidTextReader(engines=1)

    def broken() -> Any:
        raise QualityError("the OCR models could not load: damaged")

    monkeypatch.setattr(reader, "_build", broken)
    for _ in range(2):  # the second read builds again instead of waiting forever
        with pytest.raises(QualityError, match="could not load"):
            reader.read(FRAME)
