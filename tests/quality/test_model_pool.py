"""The gate's models are shared by parallel gates: OCR reads borrow engines of their own (a
RapidOCR pipeline keeps per-call state), at most a bounded number are built, and a warm-up builds
them ahead of the first gate."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quality.errors import QualityError
from quality.onscreen_text import RapidTextReader

ROOT = Path(__file__).parents[2]
SLOW_LOAD = """
import pathlib, sys, threading, time
from quality import gate

def slow_load(*args, **kwargs):  # a model load still under way when the command has returned
    while threading.main_thread().is_alive():
        time.sleep(0.02)
    time.sleep(0.3)
    pathlib.Path(sys.argv[1]).write_text("loaded")

gate.warm = slow_load
"""
"""Run first in a fresh interpreter (``sys.argv[1]``: the file the load writes when it ends): the
gate's warm-up becomes a load that ends only after the main thread has finished, as a real one
(about 1.5 s per model) does when a job fails at once."""

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


def test_a_job_warms_only_the_models_its_gates_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A preview's draft gates read text only where a prompt quotes some, so its OCR engines are
    not loaded (about 1 s of CPU each); a final's tiers watch for text, so they are."""
    from foundation.settings import Settings
    from pipeline import verdicts
    from quality import gate

    calls: list[bool] = []

    def fake_warm(safety: object, readers: int = 1, policy: object = None, *, text: bool) -> None:
        calls.append(text)

    monkeypatch.setattr(gate, "warm", fake_warm)
    monkeypatch.setattr(verdicts, "_warmed", set())
    monkeypatch.setattr(verdicts, "frame_safety_from", lambda settings: None)
    settings = Settings()

    def warmed(mode: str, prompts: list[str]) -> list[bool]:
        before = len(calls)
        thread = verdicts.warm_gate(settings, mode, prompts)
        if thread is not None:
            thread.join(5)
        return calls[before:]

    assert gate.reads_text({"draft"}, ["a sky"]) is False
    assert gate.reads_text({"draft"}, ['a card that reads "OPEN"']) is True
    assert gate.reads_text({"standard", "premium"}, ["a sky"]) is True
    assert warmed("preview", ["a sky", "a sea"]) == [False]  # the safety model only
    assert warmed("preview", ["a sky"]) == []  # loaded once per process
    assert warmed("final", ["a sky"]) == [True]  # now the OCR engines too
    assert warmed("final", ["a sky"]) == []


def test_a_process_exits_only_after_the_warm_up_has_ended(tmp_path: Path) -> None:
    """A warm-up still loading when the process exits is waited for: left running, a daemon
    thread inside onnxruntime while the interpreter finalises aborted ``shotline render`` with
    exit 134 instead of its own code."""
    exits = """
from foundation.settings import Settings
from pipeline import verdicts
verdicts.warm_gate(Settings(), "preview", ["a sky"])
sys.exit(4)
"""
    marker = tmp_path / "loaded"
    done = subprocess.run(
        [sys.executable, "-c", SLOW_LOAD + exits, str(marker)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 4, done.stderr
    assert marker.exists(), "the process exited while the gate's models were still loading"
