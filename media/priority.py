"""CPU priority of background media work, so that it yields to request handling on a busy machine."""

from __future__ import annotations

import contextlib
import os


def make_nicer(target: int, nice: int) -> None:
    """Give process or (on Linux) thread ``target`` the calling thread's niceness plus ``nice``
    (capped at 19). Does nothing for ``nice <= 0`` or when ``target`` has already exited."""
    if nice > 0:
        with contextlib.suppress(OSError):
            os.setpriority(
                os.PRIO_PROCESS, target, min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice)
            )
