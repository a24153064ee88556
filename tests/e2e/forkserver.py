"""A process that imports the ``shotline`` CLI and the stack its commands run on once, then forks
one child per command.

Each child is a real process running the real ``shotline.cli.main`` with its own argv, environment
and working directory, so it can be SIGKILLed at any line like ``python -m shotline``; it just skips
the interpreter start and the ~3 s of imports that every fresh ``shotline render`` pays, which
otherwise dominate the crash tests (and put most random kill points inside ``import``).

Protocol, one JSON object per line: ``{"op": "run", "argv", "env", "cwd", "log"}`` answers
``{"pid"}``; ``{"op": "wait", "pid", "timeout"}`` answers ``{"returncode"}`` (null while running,
``-signal`` when killed). Run as ``python -m tests.e2e.forkserver`` from the repository root.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).parents[2]
# The CLI imports a command's stack only when the command runs: load what render and resolve use.
PRELOAD = (
    "shotline.cli",
    "api.app",
    "pipeline.engine",
    "pipeline.planning",
    "pipeline.recovery",
    "pipeline.report",
    "rich.live",
)


def _child(request: dict[str, Any]) -> None:
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["shotline", *request["argv"]]
        from shotline.cli import main

        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


def serve() -> None:
    for name in PRELOAD:  # the point of this process: import once, fork many
        importlib.import_module(name)

    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "run":
            pid = os.fork()
            if pid == 0:
                _child(request)
            answer: dict[str, Any] = {"pid": pid}
        else:
            answer = {"returncode": _wait(request["pid"], request["timeout"])}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


class ForkServer:
    """Client side: ``spawn`` a CLI command, ``kill`` it, ``wait`` for its exit code."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.forkserver"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self.process.stdout.readline())
        return answer

    def spawn(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> int:
        return int(
            self._ask({"op": "run", "argv": argv, "env": env, "cwd": str(cwd), "log": str(log)})[
                "pid"
            ]
        )

    def wait(self, pid: int, timeout: float) -> int | None:
        code = self._ask({"op": "wait", "pid": pid, "timeout": timeout})["returncode"]
        return None if code is None else int(code)

    def poll(self, pid: int) -> int | None:
        return self.wait(pid, 0.0)

    def kill(self, pid: int) -> int:
        """SIGKILL the child and reap it; its exit code (``-9`` when it was still running)."""
        os.kill(pid, signal.SIGKILL)
        code = self.wait(pid, 30.0)
        assert code is not None, f"child {pid} survived SIGKILL"
        return code


if __name__ == "__main__":
    serve()
