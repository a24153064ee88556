"""``shotline.terminal``: a terminal that hung up is left, not an error. The live table's refresh
wrote to a closed pseudo-terminal before any SIGHUP handler had run (a render whose SIGHUP was
ignored, in a fresh-clone run), and the render ended with ``OSError: [Errno 5] Input/output
error`` (exit 1)."""

from __future__ import annotations

import errno
import io
import os

import pytest

from shotline import terminal as module


def test_a_write_to_a_terminal_that_hung_up_leaves_it(monkeypatch):
    master, slave = os.openpty()
    left: list[int] = []

    def leave() -> None:  # as ``stopping.leave_terminal`` does to the process's fds 1 and 2
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, slave)
        os.close(null)
        left.append(slave)

    monkeypatch.setattr("shotline.stopping.leave_terminal", leave)
    os.close(master)  # the terminal hangs up: the slave side now fails with EIO
    with os.fdopen(slave, "w", buffering=1) as gone:
        stream = module.HungUpSafe(gone)
        assert stream.write("a live table's refresh\n") == len("a live table's refresh\n")
        stream.write("the next one\n")
        stream.flush()
    assert left == [slave]


def test_other_write_errors_are_raised(monkeypatch):
    class Full(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        module.HungUpSafe(Full()).write("x")


def test_the_console_prints_through_it():
    buffer = io.StringIO()
    console = module.terminal()
    console.file.__dict__["_stream"] = buffer  # the stream the console was made with
    console.print("o:thumbs_up:.mp4")
    assert buffer.getvalue() == "o:thumbs_up:.mp4\n"
