from __future__ import annotations

import numpy as np
import pytest

from quality.events import Finding, Run, position, run_interval, runs, subtract, worst


class TestRuns:
    def test_maximal_runs_with_minimum_length(self) -> None:
        mask = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], bool)
        assert runs(mask) == [Run(0, 1), Run(3, 3), Run(6, 8)]
        assert runs(mask, min_len=2) == [Run(0, 1), Run(6, 8)]

    def test_empty_mask(self) -> None:
        assert runs(np.zeros(0, bool)) == []


class TestRunInterval:
    times = np.arange(10) / 10.0

    def test_inner_run_ends_at_next_frame(self) -> None:
        assert run_interval(Run(2, 4), self.times, 1.0) == (0.2, 0.5)

    def test_run_reaching_eof_closes_at_stream_end(self) -> None:
        assert run_interval(Run(7, 9), self.times, 1.0) == (0.7, 1.0)


def test_subtract_splits_and_trims() -> None:
    assert subtract((0.0, 2.0), [(0.5, 1.0)]) == [(0.0, 0.5), (1.0, 2.0)]
    assert subtract((0.0, 2.0), [(0.0, 2.0)]) == []
    assert subtract((0.0, 1.0), [(1.0, 2.0)]) == [(0.0, 1.0)]


@pytest.mark.parametrize(
    ("start", "end", "where"),
    [(0.0, 0.5, "head"), (1.5, 2.0, "tail"), (0.5, 1.5, "middle"), (0.0, 2.0, "whole")],
)
def test_position(start: float, end: float, where: str) -> None:
    assert position(start, end, 2.0, eps=0.02) == where


def test_finding_serialises_and_orders_severity() -> None:
    finding = Finding("black_head", "black", 0.0, 0.123456, "error", 0.123456)
    assert finding.to_dict()["end"] == 0.1235
    assert finding.duration == pytest.approx(0.123456)
    assert worst([finding.with_severity("info"), finding.with_severity("warning")]) == "warning"
    assert worst([]) == "info"
