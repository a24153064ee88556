"""One process drives a job on the embedded engine: a lock per job under the data folder.

Two processes driving the same job (the same ``shotline render`` started twice, ``jobs resume``
beside a running render, ``serve`` resuming a job a render is running) both polled its provider
jobs. With emulated providers each process has its own emulator, which does not know the other's
jobs: the second process's polls found them gone and failed paid attempts, and the shots were
rendered again. The lock is a POSIX record lock (``fcntl.lockf``): the kernel drops it when its
process ends, however it ends, so a killed render leaves nothing to clean up, and a child forked
by the process does not inherit it.

The lock lives in the data folder: embedded engines with different data folders (on two
machines) that share one PostgreSQL do not see each other's locks; the Celery engine does not use
them (its workers share every job, and its commands only follow jobs).
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from foundation.errors import ConflictError
from foundation.settings import Settings

_held: dict[Path, int] = {}
"""This process's locks: the lock file's path -> its descriptor (closing it drops the lock)."""
_guard = threading.Lock()
RETRIES = 5  # a lock file replaced between our open and our lock: take the new one


def _forget_in_child() -> None:
    """A forked child holds none of its parent's record locks (the kernel keeps them per
    process): it must not believe it does."""
    for fd in _held.values():
        os.close(fd)  # the parent's locks stay: closing a copy ends only this process's own
    _held.clear()


os.register_at_fork(after_in_child=_forget_in_child)


class DrivenElsewhereError(ConflictError):
    """The job is run by another live process on this machine; nothing was started."""

    def __init__(self, job_id: str, holder: str) -> None:
        super().__init__(
            f"job {job_id} is being run by another process ({holder}): wait for it "
            f"(`shotline jobs show {job_id}`), or stop it and run this again"
        )
        self.holder = holder


@dataclass(frozen=True)
class Claim:
    """This process's lock on driving one job; ``release`` it when the job has ended."""

    path: Path

    def release(self) -> None:
        with _guard:
            fd = _held.pop(self.path, None)
            if fd is not None:
                self.path.unlink(missing_ok=True)  # while still locked: see ``_take``
                os.close(fd)


def lock_path(settings: Settings, job_id: str) -> Path:
    return settings.data_dir.resolve() / "locks" / f"job-{job_id}.lock"


def claim(settings: Settings, job_id: str) -> Claim:
    """Take the job's lock for this process (kept when it holds it already);
    ``DrivenElsewhereError`` naming the process that holds it."""
    path = lock_path(settings, job_id)
    with _guard:
        if path not in _held:
            _held[path] = _take(path, job_id)
    return Claim(path)


def holder_elsewhere(settings: Settings, job_id: str) -> str | None:
    """The other process that drives the job (``pid N on HOST since T``), or None."""
    path = lock_path(settings, job_id)
    with _guard:
        if path in _held:
            return None
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # EAGAIN or EACCES: held
            return _holder(fd)
        finally:
            os.close(fd)  # drops the probe's own lock, if it took it
    return None


def is_driven(settings: Settings, job_id: str) -> bool:
    """Whether a process on this machine (this one included) drives the job now."""
    with _guard:
        if lock_path(settings, job_id) in _held:
            return True
    return holder_elsewhere(settings, job_id) is not None


def _take(path: Path, job_id: str) -> int:
    """Lock ``path`` (made if absent) and write who holds it. A holder unlinks the file before
    it lets go, so a lock taken on a file no longer at ``path`` is dropped and taken again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(RETRIES):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fd)
            os.close(fd)
            raise DrivenElsewhereError(job_id, holder) from None
        if _same_file(fd, path):
            since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {since}".encode())
            return fd
        os.close(fd)
    raise DrivenElsewhereError(job_id, f"its lock file {path} keeps being replaced")


def _same_file(fd: int, path: Path) -> bool:
    try:
        held, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (held.st_dev, held.st_ino) == (there.st_dev, there.st_ino)


def _holder(fd: int) -> str:
    text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    return text or "a process that is starting"
