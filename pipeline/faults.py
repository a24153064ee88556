"""Crash points for the SIGKILL tests (``tests/e2e/crash.py``); inert unless their environment
variable is set, which only the tests do.

``SHOTLINE_TEST_CRASH_AFTER_CREATE=<dir>``: the process SIGKILLs itself right after a provider
accepted an attempt's create and before the job id is stored (the window in which a restart cannot
know whether it paid), once per attempt (a marker file in ``<dir>`` remembers it).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

CRASH_AFTER_CREATE = "SHOTLINE_TEST_CRASH_AFTER_CREATE"


def after_create(attempt_id: int) -> None:
    where = os.environ.get(CRASH_AFTER_CREATE)
    if not where:
        return
    try:
        (Path(where) / f"attempt-{attempt_id}").touch(exist_ok=False)
    except FileExistsError:
        return
    os.kill(os.getpid(), signal.SIGKILL)
