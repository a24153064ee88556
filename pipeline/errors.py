"""Errors of the pipeline, and what a job, shot or attempt records about a failure."""

from __future__ import annotations

import errno
import logging
import re
from pathlib import PurePosixPath

from adapters.errors import ProviderError
from foundation.errors import ShotlineError
from media.errors import FFmpegError

log = logging.getLogger(__name__)

# An absolute file path: starts with "/" not inside a word, number, URL or "~/" path.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/[^\s'\",;:()\[\]{}<>]+")


class PipelineError(ShotlineError):
    """Base of pipeline errors."""


class TransitionError(PipelineError):
    """A status change the transition table does not allow: a bug, never a user's error."""


class StaleStatusError(TransitionError):
    """The row's status changed in another transaction since it was read: the move is not made.
    Callers that can lose such a race (a poll against a cancellation) read the row again."""


class CircuitOpenError(ProviderError):
    """The model's or provider's circuit breaker is open: the attempt moves down the chain."""

    kind = "circuit_open"


def redact_paths(text: str) -> str:
    """``text`` with every absolute file path cut down to its file name (API paths, ``/v1/…``,
    are kept). The folders shotline writes in are cut first, whole: a path is otherwise taken to
    end at a space, and a data folder such as ``/srv/my data`` left ``data/.shotline/…``."""

    def name(match: re.Match[str]) -> str:
        found = match[0]
        return found if found.startswith("/v1/") else PurePosixPath(found).name or "/"

    for root in _spaced_roots():
        text = text.replace(root, "")
    return _ABSOLUTE_PATH.sub(name, text)


def _spaced_roots() -> list[str]:
    """The folders shotline writes in whose path holds a space, the longest first."""
    from foundation.settings import get_settings

    roots = {str(folder) for folder in get_settings().written_folders}
    return sorted((root for root in roots if " " in root), key=len, reverse=True)


def public_message(exc: BaseException) -> str:
    """What a job, shot or attempt records about ``exc``: short and stable, with no server path
    and no FFmpeg stderr (FFmpeg's detail goes to the log; callers log unexpected errors)."""
    if isinstance(exc, FFmpegError):
        log.warning("ffmpeg exited %s: %s", exc.returncode, exc.stderr_tail.strip())
        if exc.returncode < 0:
            return "ffmpeg did not finish in time"
        return f"ffmpeg failed (exit status {exc.returncode})"
    if isinstance(exc, ShotlineError):
        return redact_paths(exc.message)
    first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return redact_paths(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
SQLITE_FULL = "database or disk is full"  # SQLITE_FULL's message (sqlite3.c, sqlite3ErrStr)


def disk_full_in(exc: BaseException) -> str | None:
    """What could not be written, when ``exc`` (or an error it was raised from) is a write that
    found no space: an ``OSError`` ENOSPC or EDQUOT (PyAV's included), or SQLite's SQLITE_FULL."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in DISK_FULL_ERRNOS:
            return f"{seen.filename or 'a file'} could not be written"
        if SQLITE_FULL in str(getattr(seen, "orig", "")):
            return "the database could not be written"
        seen = seen.__cause__ or seen.__context__
    return None
