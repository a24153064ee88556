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


class DiskFull(Stopped):
    """No space was left to write in: the process stops as on a stop signal, since no work can go
    on, and nothing is written as failed (an accepted, paid clip whose normalise could not write
    its segment had been failed, and the job then waited on steps retried against a full disk)."""


_halted_by: list[str] = []
_stops_on_disk_full = threading.Event()


def stop_on_disk_full() -> None:
    """This process watches one job to its end (``render``, ``commit``, ``jobs resume``): a full
    disk stops it, since no work can go on. Elsewhere (``serve``, a worker) the step that met it
    is retried later, as on a database outage, and the process serves on."""
    _stops_on_disk_full.set()


def disk_full(what: str) -> DiskFull:
    """The error to raise where a write found no space (``what`` says which); in a process that
    stops on a full disk, the stop is requested too, and ``halted_by`` says why."""
    why = f"no space left on device: {what}"
    if _stops_on_disk_full.is_set():
        if not _halted_by:
            _halted_by.append(why)
        request()
    return DiskFull(why)


def halted_by() -> str | None:
    """Why this process stops when it was not asked to (a full disk), else None."""
    return _halted_by[0] if _halted_by else None
