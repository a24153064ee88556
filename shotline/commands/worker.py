"""``shotline worker``: a Celery worker of the distributed engine (``SHOTLINE_ENGINE=celery``).

Run as many as needed, on as many machines as needed; every worker needs the same
``SHOTLINE_DATABASE_URL`` (PostgreSQL), ``SHOTLINE_BROKER_URL`` (Redis) and ``SHOTLINE_ASSET_DIR``
(a directory all workers share). Exactly one worker in the deployment runs with ``--beat``
(the reaper's schedule).
"""

from __future__ import annotations

import socket
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from foundation.errors import InvalidInputError, Problem, ShotlineError
from shotline.console import fail_with

if TYPE_CHECKING:
    from rich.console import Console

    from foundation.settings import Settings

QUEUES = ("io", "cpu")


class LogLevel(StrEnum):
    """Celery's log levels (``celery worker --loglevel``): another was a traceback at start."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


def parse_queues(text: str) -> list[str]:
    queues = [q.strip() for q in text.split(",") if q.strip()]
    unknown = [q for q in queues if q not in QUEUES]
    if not queues or unknown:
        raise InvalidInputError(
            "bad --queues",
            [Problem("--queues", f"a comma-separated subset of {', '.join(QUEUES)}")],
        )
    return queues


def default_concurrency(settings: Settings, queues: list[str]) -> int:
    """Provider I/O waits, so an io-only worker runs many; CPU work runs one per core."""
    if "cpu" not in queues:
        return settings.io_workers
    return settings.cpu_workers if "io" not in queues else settings.cpu_workers + 2


def worker_argv(
    settings: Settings,
    queues: list[str],
    *,
    concurrency: int | None = None,
    name: str = "shotline@%h",
    beat: bool = False,
    loglevel: str = "info",
) -> list[str]:
    """The ``celery worker`` arguments; CPU workers are recycled after
    ``SHOTLINE_CPU_MAX_TASKS_PER_CHILD`` tasks (FFmpeg and decoders leak memory over time)."""
    from pipeline.celery_app import queue_name

    count = concurrency or default_concurrency(settings, queues)
    if count < 1:
        raise InvalidInputError("bad --concurrency", [Problem("--concurrency", "at least 1")])
    argv = [
        "worker",
        f"--queues={','.join(queue_name(settings, q) for q in queues)}",
        f"--concurrency={count}",
        "--pool=prefork",
        f"--hostname={name}",
        f"--loglevel={loglevel}",
        "--without-gossip",
        "--without-mingle",
    ]
    if "cpu" in queues:
        argv.append(f"--max-tasks-per-child={settings.cpu_max_tasks_per_child}")
    if beat:
        schedule = (settings.data_dir / "celerybeat-schedule").resolve()
        schedule.parent.mkdir(parents=True, exist_ok=True)
        argv += ["--beat", f"--schedule={schedule}"]
    return argv


def run_worker(
    queues: str, concurrency: int | None, name: str, beat: bool, loglevel: str, console: Console
) -> None:
    from foundation.settings import get_settings

    settings = get_settings()
    argv = worker_argv(
        settings,
        parse_queues(queues),
        concurrency=concurrency,
        name=name,
        beat=beat,
        loglevel=loglevel,
    )
    from pipeline import tasks
    from pipeline.celery_app import celery_for, check_broker
    from pipeline.context import RunContext
    from store.db import migrate

    ctx = RunContext.create("emulated" if settings.emulator_url else "auto", settings)
    ctx.assets.check()
    # a broker it cannot reach at start is named now, as serve and render name it (Celery would
    # retry it a hundred times); one lost later is Celery's to reconnect to
    check_broker(settings)
    # a database it cannot open is named now, not met by every step it is sent (no connection is
    # left open for the worker's forked processes to share)
    migrate(settings.db_url)
    if settings.emulator_url:
        from emulators import urls_for

        ctx.base_urls, ctx.judge_base_urls = urls_for(settings.emulator_url)
    tasks.install_context(ctx)

    database = settings.db_url.split("://", 1)[0]
    node = name.replace("%h", socket.gethostname())  # as Celery names it (it printed "%h")
    console.print(
        f"shotline worker {node}: queues {queues}, database {database}, beat {beat}",
        highlight=False,
        markup=False,
    )
    if database.startswith("sqlite"):
        console.print("[yellow]SQLite: only workers on this machine can share the database[/]")
    celery_for(settings).worker_main(argv)


def worker(
    queues: Annotated[str, typer.Option(help="comma-separated: io, cpu")] = "io,cpu",
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="processes (default: by queue, from settings)")
    ] = None,
    name: Annotated[
        str, typer.Option(help="node name, unique per machine (%h: the host name)")
    ] = "shotline@%h",
    beat: Annotated[
        bool, typer.Option(help="also run the reaper's schedule (one worker per deployment)")
    ] = False,
    loglevel: Annotated[
        LogLevel, typer.Option(case_sensitive=False, help="celery log level")
    ] = LogLevel.INFO,
) -> None:
    """Run a distributed-engine worker (Celery) on the io and/or cpu queues."""
    from shotline.terminal import terminal

    console = terminal(stderr=True)
    try:
        run_worker(queues, concurrency, name, beat, loglevel.value, console)
    except ShotlineError as exc:
        fail_with(exc, console, False)


def register(app: typer.Typer) -> None:
    app.command()(worker)


def main() -> None:
    """``python -m shotline.commands.worker``: the command on its own."""
    typer.run(worker)


if __name__ == "__main__":
    main()
