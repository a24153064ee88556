"""SIGKILL at random points, and in the window between "request sent" and "job id stored", never
loses or duplicates paid work: every job completes on restart (held creates resolved as an operator
would), every provider job belongs to an attempt, none is created twice, and the ledger
reconciles with the attempts."""

from __future__ import annotations

import pytest

from tests.e2e.crash import CrashPlan, crash_and_check


@pytest.mark.slow
@pytest.mark.serial
def test_sigkill_at_random_points_loses_no_paid_work(tmp_path):
    data = tmp_path / "data"
    crash_and_check(
        tmp_path,
        f"sqlite:///{(data / 'shotline.db').resolve()}",
        {"SHOTLINE_DATA_DIR": str(data)},
        CrashPlan(runs=3, seed=2026, kill_after_s=(0.1, 2.0), finish_timeout_s=300),
    )
