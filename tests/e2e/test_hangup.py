"""A render whose terminal hangs up (the window closed, an SSH session dropped) stops as on Ctrl-C:
its provider requests in flight complete, nothing is failed, exit 129, no FFmpeg left behind, and
no traceback meets the terminal that is gone.

Before, SIGHUP's default action ended the process at once: a create in flight then had no
stored job id, and the next run asked for ``shotline resolve``. Handled naively, the live table's
last refresh wrote to the hung-up terminal (EIO) and ended the command with a traceback before its
steps ended. The render runs on a pseudo-terminal that the test closes, as a terminal emulator
does."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.crash import small_teaser
from tests.e2e.test_stop import SCENARIO, _left_in_session, _query


def _on_terminal() -> None:
    """The child's own session, with the pseudo-terminal on its standard input as its
    controlling terminal (a shell's job in a terminal window)."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _drain(master: int, into: bytearray) -> None:
    """Read what the render draws, as a terminal does (a full terminal buffer would block it)."""
    try:
        while chunk := os.read(master, 65536):
            into.extend(chunk)
    except OSError:  # EIO once the terminal is closed
        pass


@pytest.mark.slow
@pytest.mark.serial
def test_a_terminal_hangup_stops_the_render_as_ctrl_c_does(tmp_path: Path) -> None:
    board = small_teaser(tmp_path)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    db = Path(os.environ["SHOTLINE_DATA_DIR"]) / "shotline.db"
    errors = tmp_path / "stderr.log"
    master, slave = os.openpty()
    argv = [sys.executable, "-m", "shotline", "render", str(board), "-o", "out/teaser.mp4",
            "--providers", "emulated", "--scenario", str(scenario)]  # fmt: skip
    with errors.open("wb") as err:
        process = subprocess.Popen(
            argv, cwd=tmp_path, stdin=slave, stdout=slave, stderr=err, preexec_fn=_on_terminal
        )
    os.close(slave)
    drawn = bytearray()
    threading.Thread(target=_drain, args=(master, drawn), daemon=True).start()
    deadline = time.monotonic() + 120
    while not _query(db, "select 1 from attempt where status = 'rendering'"):
        assert process.poll() is None, errors.read_text()[-3000:]
        assert time.monotonic() < deadline, "the render never began"
        time.sleep(0.05)
    os.close(master)  # the terminal hangs up: SIGHUP to its session's foreground group

    assert process.wait(90) == 129, errors.read_text()[-3000:]
    assert "Traceback" not in errors.read_text()
    assert b"rendering" in drawn  # the live table was on the terminal until it went
    failed = _query(db, "select status, error from attempt where status in "
                        "('failed', 'rejected', 'cancelled')")  # fmt: skip
    assert failed == [], failed
    assert _query(db, "select status from job") == [("running",)]
    time.sleep(0.3)
    assert _left_in_session(process.pid) == []
