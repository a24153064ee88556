"""The embedded engine's SIGKILL crash test (tests/e2e/test_crash.py) on PostgreSQL: the same
guarantees, with 2 seeded random-kill runs instead of 4 to keep the suite short, plus the crash-window board."""

from __future__ import annotations

import pytest

from tests.e2e.crash import CrashPlan, crash_and_check


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.services
def test_sigkill_at_random_points_loses_no_paid_work_on_postgres(tmp_path, fresh_postgres_url):
    crash_and_check(
        tmp_path,
        fresh_postgres_url,
        {"SHOTLINE_DATA_DIR": str(tmp_path / "data"), "SHOTLINE_DATABASE_URL": fresh_postgres_url},
        CrashPlan(runs=2, seed=2027, kill_after_s=(0.1, 2.0), finish_timeout_s=120),
    )
