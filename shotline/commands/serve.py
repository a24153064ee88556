"""``shotline serve``: the HTTP API. With the embedded engine jobs run in this process and unfinished
ones resume at start; with ``SHOTLINE_ENGINE=celery`` it only enqueues (workers run the jobs) and
enqueues at start the API jobs a previous run committed but never enqueued."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from foundation.errors import InvalidInputError, Problem, ShotlineError
from shotline.console import fail_with
from shotline.emulated import refuse_scenario_alone, use_emulator
from shotline.options import Providers
from shotline.services import check_shared

if TYPE_CHECKING:
    from types import FrameType

    from rich.console import Console

    from pipeline.context import RunContext
    from pipeline.runner import JobRunner


def _celery_runner(ctx: RunContext, providers: str) -> JobRunner:
    """With the celery engine this process only plans and enqueues; the workers render, so with
    emulated providers they and this process must share one emulator (``shotline emulate``)."""
    if providers == "emulated" and not ctx.settings.emulator_url:
        raise InvalidInputError(
            "the celery engine needs a shared emulator",
            [Problem("SHOTLINE_EMULATOR_URL", "set it (workers too) to a `shotline emulate` URL")],
        )
    from pipeline.celery_app import CeleryRunner

    return CeleryRunner(ctx)


def build_server(
    providers: str, scenario: Path | None, stack: ExitStack
) -> tuple[RunContext, JobRunner]:
    """The context and runner ``serve`` runs with; what they hold (an emulator started here, the
    runner's workers) closes with ``stack``."""
    from pipeline.context import RunContext
    from pipeline.runner import JobRunner

    refuse_scenario_alone(providers, scenario)
    ctx = RunContext.create(providers)
    check_shared(ctx)
    runner: JobRunner
    if ctx.settings.engine == "celery":
        if scenario is not None:
            raise InvalidInputError(
                "--scenario needs the embedded engine",
                [
                    Problem(
                        "--scenario",
                        "celery workers share the emulator at SHOTLINE_EMULATOR_URL: start it "
                        f"with `shotline emulate --scenario {scenario}`",
                    )
                ],
            )
        runner = _celery_runner(ctx, providers)
    else:
        if providers == "emulated":
            use_emulator(ctx, stack, scenario)
        runner = JobRunner(ctx)
    stack.callback(runner.shutdown)
    return ctx, runner


def freeze_startup_objects() -> None:
    """Take what is alive once the server is built (modules, the app, the registry) out of the
    garbage collector's view. A full collection under load walked all of it with every thread
    stopped: 110-140 ms pauses, the whole /healthz p99 of ``benchmarks/bench_load.py``; now only
    objects made later are scanned (20-30 ms)."""
    import gc

    gc.collect()
    gc.freeze()


def server_options(host: str, port: int) -> dict[str, Any]:
    """uvicorn's options for ``serve``. A request from a reverse proxy named in
    ``SHOTLINE_API_FORWARDED_ALLOW_IPS`` has the client address the proxy forwards
    (``X-Forwarded-For``, read by uvicorn's ``ProxyHeadersMiddleware``), so the failed-key
    lockout and the logs see each client, not the proxy; unset, uvicorn's own
    ``FORWARDED_ALLOW_IPS``, else loopback only."""
    from api.config import load_api_settings

    allowed = load_api_settings().forwarded_allow_ips
    return {
        "host": host,
        "port": port,
        "log_level": "info",
        "proxy_headers": True,
        "forwarded_allow_ips": allowed,
    }


def serve_api(
    host: str, port: int, providers: str, console: Console, scenario: Path | None = None
) -> None:
    import uvicorn

    from api.app import create_app
    from shotline.stopping import stop_signals

    with ExitStack() as stack:
        listener = stack.enter_context(listen(host, port))  # before any job is resumed
        port = listener.getsockname()[1]  # the one the system chose for port 0
        ctx, runner = build_server(providers, scenario, stack)
        app = create_app(ctx, runner)
        resumed = runner.resume_unfinished()
        shown = f"[{host}]" if ":" in host else host  # an IPv6 address, as a URL writes it
        console.print(
            f"shotline API on http://{shown}:{port}  (engine {ctx.settings.engine}, providers "
            f"{providers}, database {ctx.db_url.split('://', 1)[0]}); resumed {len(resumed)} jobs"
            + _left_note(runner)
        )
        freeze_startup_objects()
        # uvicorn stops serving on SIGINT/SIGTERM, restores the handlers it found and raises the
        # signal again: here ``stop_signals``'s, which records it (its KeyboardInterrupt is
        # swallowed, as ``uvicorn.run`` does); the engine stops below, before the emulator and
        # the interpreter.
        with stop_signals() as caught:
            server = _server_class()(uvicorn.Config(app, **server_options(host, port)))
            with suppress(KeyboardInterrupt):  # as ``uvicorn.run``
                server.run(sockets=[listener])
        if caught:
            stop_embedded(ctx, caught[0], console)
        if not server.started:
            raise typer.Exit(3)  # uvicorn's STARTUP_FAILURE


def _left_note(runner: JobRunner) -> str:
    """The unfinished jobs another process runs now (``pipeline.driver``), which this one left."""
    left = runner.left_to_others
    return f" (left {len(left)} to the processes running them: {', '.join(left)})" if left else ""


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound before the engine resumes any job: a port another
    server holds ends ``serve`` here (exit 1, naming it). Before, the second server resumed the
    unfinished jobs, said it served, then failed to bind and stopped them (uvicorn's exit 3)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        why = (exc.strerror or str(exc)).split(" (while attempting", 1)[0]  # create_server's
        raise AddressUnusableError(f"cannot serve on {host}:{port}: {why}") from exc


class AddressUnusableError(ShotlineError):
    """``--host``/``--port`` cannot be listened on (taken, or not an address of this machine)."""


def _server_class() -> type[Any]:
    import uvicorn

    from foundation import stopping
    from shotline.stopping import HANGUP, handled, leave_terminal

    class StoppingServer(uvicorn.Server):
        """uvicorn's server, marking the stop as the signal arrives (``foundation.stopping``):
        its graceful shutdown can wait for open connections, and an FFmpeg run that the same
        Ctrl-C ended meanwhile is a stop, not a failed shot. A hangup (its terminal closed)
        stops it the same way: uvicorn handles only SIGINT and SIGTERM, and SIGHUP's default
        ended the process at once, mid-request and mid-step."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            stopping.request()
            if sig == HANGUP:
                leave_terminal()
            super().handle_exit(sig, frame)

        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            """uvicorn's, with SIGHUP too; it is handed back before uvicorn raises the signals
            it caught again (to ``stop_signals``' handler, which stops the engine after)."""
            with super().capture_signals():
                if threading.current_thread() is not threading.main_thread() or (
                    HANGUP not in handled()  # ignored, as under ``nohup``
                ):
                    yield
                    return
                previous = signal.signal(HANGUP, self.handle_exit)
                try:
                    yield
                finally:
                    signal.signal(HANGUP, previous)

    return StoppingServer


def stop_embedded(ctx: RunContext, signum: int, console: Console) -> NoReturn:
    """After uvicorn's graceful shutdown: stop the embedded engine (its jobs resume when the
    server starts again), then end by the signal, as uvicorn itself would."""
    from shotline.stopping import end_by_signal, stop_engine

    if ctx.settings.engine != "celery":
        stop_engine()
        console.print("engine stopped: unfinished jobs resume when `shotline serve` starts again")
    end_by_signal(signum)
    raise SystemExit(128 + signum)  # not reached: the signal ends the process


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
        port: Annotated[
            int, typer.Option(min=0, max=65535, help="port to listen on (0: a free one)")
        ] = 8000,
        providers: Providers = "auto",
        scenario: Annotated[
            Path | None, typer.Option(help="emulator scenario YAML (with --providers emulated)")
        ] = None,
    ) -> None:
        """Run the HTTP API (OpenAPI at /docs) with the engine chosen by settings."""
        from shotline.terminal import terminal

        console = terminal(stderr=True)
        try:
            serve_api(host, port, providers, console, scenario)
        except ShotlineError as exc:
            fail_with(exc, console, False)
