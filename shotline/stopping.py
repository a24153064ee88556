"""How a command that runs jobs in this process (``render``, ``commit``, ``serve``) stops on SIGINT
(Ctrl-C), SIGTERM (systemd, docker, Kubernetes) or SIGHUP (its terminal closed, an SSH session
dropped).

The first signal stops the engine politely (``pipeline.dispatch.stop``): nothing more starts, the
FFmpeg runs in hand end, the steps running now end (a provider request in flight completes, so its
job id is stored), then the command says what it left and exits 128 + the signal's number (130,
143, 129). Everything left is resumable exactly as after a kill: the next run continues from the stored
steps and pays nothing twice. A second signal acts at once (its default action)."""

from __future__ import annotations

import os
import signal
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from foundation import stopping

HANGUP = signal.SIGHUP
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, HANGUP)
"""A hangup ended a render at once (Python's default): a create in flight then had no stored job
id, and the next run asked for ``shotline resolve``. ``serve`` has uvicorn handle it as it
handles SIGINT and SIGTERM (``serve._server_class``)."""
STOP_GRACE_S = 30.0
"""How long the steps running at a stop may take to end (a gate decoding its clip, a provider
request); past it the process ends by its signal, which loses nothing either (as a kill)."""


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP, raised in the main thread; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signum_of(exc: KeyboardInterrupt) -> int:
    """The signal behind a KeyboardInterrupt (a plain one is SIGINT: Python's own handler)."""
    return getattr(exc, "signum", signal.SIGINT)


def exit_code(signum: int) -> int:
    """The shell's convention for a process ended by a signal: 130 for SIGINT, 143 for SIGTERM,
    129 for SIGHUP."""
    return 128 + signum


@contextmanager
def stop_signals() -> Iterator[list[int]]:
    """Within: SIGTERM and SIGHUP stop like Ctrl-C, each raising ``Interrupted`` in the main
    thread (as ``KeyboardInterrupt``); the list yielded holds the signal caught, for code that
    swallows KeyboardInterrupt (``uvicorn.run`` does). Off the main thread (a test calling the
    command), nothing changes."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        stopping.request()  # at once: an FFmpeg run the same Ctrl-C ended is a stop
        for stop in previous:  # the second signal acts at once
            signal.signal(stop, signal.SIG_DFL)
        if signum == HANGUP:
            leave_terminal()
        caught.append(signum)
        raise Interrupted(signum)

    previous = {stop: signal.signal(stop, interrupt) for stop in handled()}
    try:
        yield caught
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)


def handled() -> tuple[int, ...]:
    """The stop signals this process acts on: not those it was started ignoring, as ``nohup``
    starts a command that must outlive its terminal (SIGHUP) and a shell a background job
    (SIGINT)."""
    return tuple(stop for stop in STOP_SIGNALS if signal.getsignal(stop) != signal.SIG_IGN)


def leave_terminal() -> None:
    """After a hangup the terminal is gone, and a write to it fails (EIO): the live table's last
    refresh would end the command before its steps end. Standard output and error that are the
    terminal go to ``/dev/null``, as under ``nohup``; a file or pipe keeps the stop line. (A
    terminal is told by its file type: ``isatty`` is False once it has hung up.)"""
    for fd in (1, 2):
        if stat.S_ISCHR(os.fstat(fd).st_mode):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, fd)
            os.close(null)


def stop_engine() -> bool:
    """Stop this process's embedded engine (``pipeline.dispatch.stop``) before the process exits;
    False when a step still ran after ``STOP_GRACE_S``."""
    from pipeline import dispatch

    return dispatch.stop(STOP_GRACE_S)


def end_by_signal(signum: int) -> None:
    """End the process by ``signum``'s default action (a step still runs, and finalising the
    interpreter under it could abort; or a server's convention, as uvicorn's)."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
