"""The emulator removes its media directory (``shotline-emulator-*``) when it stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from emulators import start_emulator

PREFIX = "shotline-emulator-"


def _left(tmp: Path) -> list[Path]:
    return sorted(tmp.glob(f"{PREFIX}*"))


def _env(tmp: Path) -> dict[str, str]:
    return os.environ | {"TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}


def _python(script: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """``python -c script`` with ``tmp`` as its temporary directory, its output captured."""
    return subprocess.run(
        [sys.executable, "-c", script], env=_env(tmp), capture_output=True, text=True, timeout=60
    )


def _wait_for(path: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in (path.read_text() if path.exists() else ""):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path.read_text()!r}"
        time.sleep(0.05)


def test_stop_removes_the_media_directory():
    handle = start_emulator()
    media = handle.emulator.media_dir
    (media / "clip.mp4").write_bytes(b"rendered")
    assert media.name.startswith(PREFIX)
    handle.stop()
    assert not media.exists()


def test_a_terminated_emulate_command_leaves_no_media(tmp_path: Path):
    log = tmp_path / "emulate.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "shotline", "emulate", "--port", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(tmp_path),
        )
        try:
            _wait_for(log, "Ctrl-C stops")
            assert len(_left(tmp_path)) == 1
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    assert _left(tmp_path) == []


def test_a_process_that_never_stops_its_emulator_leaves_no_media(tmp_path: Path):
    script = (
        "from emulators import start_emulator\n"
        "handle = start_emulator()\n"
        "(handle.emulator.media_dir / 'clip.mp4').write_bytes(b'rendered')\n"
        "print(handle.emulator.media_dir)\n"
    )
    done = _python(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(tmp_path))
    assert _left(tmp_path) == []


def test_a_sigterm_right_after_start_still_stops_the_command_cleanly(tmp_path: Path):
    """A supervisor may stop ``shotline emulate`` the moment it runs: the signal arrives here just
    after the server started, before the command printed a word. It used to kill the process
    (-15) with its media directory left behind; it stops like Ctrl-C instead."""
    script = (
        "import os, signal, sys\n"
        "import emulators\n"
        "real = emulators.start_emulator\n"
        "def start(*args, **kwargs):\n"
        "    handle = real(*args, **kwargs)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    return handle\n"
        "emulators.start_emulator = start\n"
        "from shotline.cli import main\n"
        "sys.argv = ['shotline', 'emulate', '--port', '0']\n"
        "main()\n"
    )
    done = _python(script, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "stopped" in done.stdout
    assert _left(tmp_path) == []
