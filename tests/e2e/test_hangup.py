"""A render whose terminal hangs up (the window closed, an SSH session dropped) stops as on Ctrl-C:
its provider requests in flight complete, nothing is failed, exit 129, no FFmpeg left behind, and
no traceback meets the terminal that is gone.

Before, SIGHUP's default action ended the process at once: a create in flight then had no
stored job id, and the next run asked for ``shotline resolve``. Handled naively, the live table's
last refresh wrote to the hung-up terminal (EIO) and ended the command with a traceback before its
steps ended. The render runs on a pseudo-terminal that the test closes, as a terminal emulator
does."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.crash import small_teaser
from tests.e2e.test_stop import SCENARIO, _left_in_session, _query, wait_serving

ON_TERMINAL = textwrap.dedent(
    """
    import fcntl, os, signal, sys, termios
    tty, nohup, argv = sys.argv[1], sys.argv[2] == "nohup", sys.argv[3:]
    os.setsid()
    terminal = os.open(tty, os.O_RDWR)
    fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)
    os.close(terminal)
    # kept across exec, as nohup relies on; a plain job gets the default even when the suite
    # itself runs under nohup (the hangup tests failed so: the render ignored its hangup)
    signal.signal(signal.SIGHUP, signal.SIG_IGN if nohup else signal.SIG_DFL)
    os.execv(sys.executable, [sys.executable, *argv])
    """
)
"""Start ``argv`` in its own session whose controlling terminal is ``tty`` (a shell's job in a
terminal window), ``nohup`` as ``nohup`` starts a command. A fresh interpreter does it before its
``exec``: a ``preexec_fn`` in the suite's multithreaded worker hung in the child, stalling CI."""


def _on_terminal(slave: int, nohup: bool, *argv: str) -> list[str]:
    mode = "nohup" if nohup else "plain"
    return [sys.executable, "-c", ON_TERMINAL, os.ttyname(slave), mode, *argv]


class Terminal:
    """The terminal's side of a pseudo-terminal: it reads what the program draws (a full buffer
    would block the program) until it is closed, which hangs it up. Reads wait in ``select``
    slices: a ``close`` while another thread sits in ``read`` does not release the master, and a
    program that draws nothing more (``serve``) would never see the hangup."""

    def __init__(self, master: int) -> None:
        self.master, self.drawn = master, bytearray()
        self._closing = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closing.is_set():
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: the program closed its side
                    return
                self.drawn.extend(chunk)

    def hang_up(self) -> None:
        self._closing.set()
        self._reader.join(5)
        os.close(self.master)  # SIGHUP to the session's controlling process and foreground group


def _render_on_terminal(
    tmp_path: Path, log: Path, under_nohup: bool
) -> tuple[subprocess.Popen[bytes], Terminal, Path]:
    """The teaser's render on a pseudo-terminal (its output on it, or under ``nohup`` in
    ``log``), returned once provider jobs render: the process, its terminal, its database."""
    board = small_teaser(tmp_path)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    db = Path(os.environ["SHOTLINE_DATA_DIR"]) / "shotline.db"
    master, slave = os.openpty()
    argv = ["-m", "shotline", "render", str(board), "-o", "out/teaser.mp4",
            "--providers", "emulated", "--scenario", str(scenario)]  # fmt: skip
    with log.open("wb") as out:
        streams = (
            (subprocess.DEVNULL, out, subprocess.STDOUT) if under_nohup else (slave, slave, out)
        )
        process = subprocess.Popen(_on_terminal(slave, under_nohup, *argv), cwd=tmp_path,
                                   stdin=streams[0], stdout=streams[1], stderr=streams[2])  # fmt: skip
    os.close(slave)
    terminal = Terminal(master)
    deadline = time.monotonic() + 120
    while not _query(db, "select 1 from attempt where status = 'rendering'"):
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the render never began"
        time.sleep(0.05)
    return process, terminal, db


@pytest.mark.slow
@pytest.mark.serial
def test_a_terminal_hangup_stops_the_render_as_ctrl_c_does(tmp_path: Path) -> None:
    errors = tmp_path / "stderr.log"
    process, terminal, db = _render_on_terminal(tmp_path, errors, under_nohup=False)
    terminal.hang_up()

    assert process.wait(90) == 129, errors.read_text()[-3000:]
    assert "Traceback" not in errors.read_text()
    assert b"rendering" in terminal.drawn  # the live table was on the terminal until it went
    failed = _query(db, "select status, error from attempt where status in "
                        "('failed', 'rejected', 'cancelled')")  # fmt: skip
    assert failed == [], failed
    assert _query(db, "select status from job") == [("running",)]
    time.sleep(0.3)
    assert _left_in_session(process.pid) == []


@pytest.mark.slow
@pytest.mark.serial
def test_a_terminal_hangup_stops_serve_as_ctrl_c_does(tmp_path: Path) -> None:
    """uvicorn handles only SIGINT and SIGTERM: a hangup ended ``serve`` at once, mid-request
    and mid-step. It now shuts down as on Ctrl-C, stops its engine, and ends by the signal."""
    errors = tmp_path / "stderr.log"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    master, slave = os.openpty()
    argv = _on_terminal(slave, False, "-m", "shotline", "serve", "--port", str(port),
                        "--providers", "local")  # fmt: skip
    with errors.open("wb") as err:
        process = subprocess.Popen(argv, cwd=tmp_path, stdin=slave, stdout=slave, stderr=err)
    os.close(slave)
    terminal = Terminal(master)
    wait_serving(process, port, errors)
    terminal.hang_up()

    assert process.wait(60) == -signal.SIGHUP, errors.read_text()[-3000:]  # a shell sees 129
    said = errors.read_text()
    assert "Application shutdown complete" in said, said[-3000:]  # uvicorn's graceful stop
    assert "engine stopped: unfinished jobs resume when `shotline serve` starts again" in said
    assert "Traceback" not in said


@pytest.mark.slow
@pytest.mark.serial
def test_under_nohup_the_render_outlives_its_terminal(tmp_path: Path) -> None:
    """A command started as ``nohup`` starts it (SIGHUP ignored, its output in a file, the
    terminal still its session's) must outlive the terminal: the stop signals leave an ignored
    signal ignored."""
    output = tmp_path / "nohup.out"
    process, terminal, db = _render_on_terminal(tmp_path, output, under_nohup=True)
    terminal.hang_up()

    assert process.wait(120) == 0, output.read_text()[-3000:]
    assert _query(db, "select status from job") == [("delivered",)]
    assert (tmp_path / "out" / "teaser.mp4").stat().st_size > 0
