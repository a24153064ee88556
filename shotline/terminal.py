"""The console every command prints on."""

from __future__ import annotations

import errno
import sys
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def terminal(*, stderr: bool = False, width: int | None = None) -> Console:
    """A Rich console printing user text as written: Rich's ``:name:`` emoji codes are off (a path
    ``o:thumbs_up:.mp4`` printed as ``o👍.mp4``, a title's ``:rocket:`` as 🚀), and a terminal
    that hung up is left, not an error (``HungUpSafe``)."""
    from rich.console import Console

    stream = HungUpSafe(sys.stderr if stderr else sys.stdout)
    return Console(file=stream, width=width, emoji=False)  # type: ignore[arg-type]


class HungUpSafe:
    """A text stream whose writes survive the terminal hanging up (a closed window, a dropped SSH
    session). A write then fails with EIO, and can come before the SIGHUP handler has run
    (``stopping.leave_terminal``), or without it when SIGHUP is ignored (a command started under
    ``nohup`` whose output is still the terminal): the live table's refresh ended a render with
    ``OSError: [Errno 5]``. Such a write leaves the terminal at once and is dropped; every other
    error is raised."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            _left_on(exc)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            _left_on(exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _left_on(exc: OSError) -> None:
    if exc.errno != errno.EIO:
        raise exc
    from shotline.stopping import leave_terminal

    leave_terminal()
