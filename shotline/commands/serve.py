"""``shotline serve``: the HTTP API. With the embedded engine jobs run in this process and unfinished
ones resume at start; with ``SHOTLINE_ENGINE=celery`` it only enqueues (workers run the jobs) and
enqueues at start the API jobs a previous run committed but never enqueued."""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING, Annotated

import typer

from foundation.errors import InvalidInputError, Problem, ShotlineError
from shotline.console import fail_with

if TYPE_CHECKING:
    from rich.console import Console

    from pipeline.context import RunContext
    from pipeline.runner import JobRunner

PROVIDER_CHOICES = ("local", "emulated", "live", "auto")


def _start_emulator(ctx: RunContext, stack: ExitStack) -> None:
    """Point the adapters at the emulator at SHOTLINE_EMULATOR_URL (e.g. a running ``shotline
    emulate`` with a scenario), else at a new one in this process."""
    from emulators import start_emulator, urls_for

    if ctx.settings.emulator_url:
        ctx.base_urls, ctx.judge_base_urls = urls_for(ctx.settings.emulator_url)
        return
    handle = stack.enter_context(start_emulator(None))
    ctx.base_urls = dict(handle.base_urls)
    ctx.judge_base_urls = dict(getattr(handle, "judge_base_urls", {}))


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


def serve_api(host: str, port: int, providers: str, console: Console) -> None:
    import uvicorn

    from api.app import create_app
    from pipeline.context import RunContext
    from pipeline.runner import JobRunner

    if providers not in PROVIDER_CHOICES:
        raise InvalidInputError(
            "bad --providers", [Problem("--providers", f"one of {', '.join(PROVIDER_CHOICES)}")]
        )
    ctx = RunContext.create(providers)
    with ExitStack() as stack:
        runner: JobRunner
        if ctx.settings.engine == "celery":
            runner = _celery_runner(ctx, providers)
        else:
            if providers == "emulated":
                _start_emulator(ctx, stack)
            runner = JobRunner(ctx)
        stack.callback(runner.shutdown)
        app = create_app(ctx, runner)
        resumed = runner.resume_unfinished()
        console.print(
            f"shotline API on http://{host}:{port}  (engine {ctx.settings.engine}, providers "
            f"{providers}, database {ctx.db_url.split('://', 1)[0]}); resumed {len(resumed)} jobs"
        )
        uvicorn.run(app, host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
        providers: Annotated[str, typer.Option(help="local | emulated | live | auto")] = "auto",
    ) -> None:
        """Run the HTTP API (OpenAPI at /docs) with the engine chosen by settings."""
        from rich.console import Console

        console = Console(stderr=True)
        try:
            serve_api(host, port, providers, console)
        except ShotlineError as exc:
            fail_with(exc, console, False)
