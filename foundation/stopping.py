"""This process is stopping (SIGINT or SIGTERM, see ``shotline.stopping``): the flag that the work
in hand reads, and what it raises instead of failing.

Work cut short by a stop is not a failure of that work: an FFmpeg run killed by the stop raises
``Stopped``, which no step catches (it is not an ``Exception``), so nothing is written as failed;
the step's cursor stays where it was and the next process runs it again, as after a kill."""

from __future__ import annotations

import threading

_requested = threading.Event()


class Stopped(BaseException):
    """The process is stopping; the work that raised this is abandoned, to be done again."""


def request() -> None:
    """Mark this process as stopping (for good: it does not start work again)."""
    _requested.set()


def requested(timeout: float = 0.0) -> bool:
    """Whether a stop was requested, waiting up to ``timeout`` seconds for one."""
    return _requested.wait(timeout) if timeout > 0 else _requested.is_set()
