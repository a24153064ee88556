"""The ``shotline`` command line."""

from __future__ import annotations

import logging

import typer
from rich.console import Console

from foundation.settings import get_settings
from media.errors import FFmpegUnsupportedError
from media.ffmpeg import ffmpeg_binary
from shotline.commands import (
    budget,
    check,
    commit,
    costs,
    doctor,
    emulate,
    jobs,
    keys,
    models,
    plan,
    render,
    resolve,
    serve,
    stitch,
    worker,
)
from shotline.console import fail_with

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="AI video backend: storyboard in, video out."
)
render.register(app)
plan.register(app)
models.register(app)
check.register(app)
emulate.register(app)
stitch.register(app)
serve.register(app)
keys.register(app)
budget.register(app)
worker.register(app)
commit.register(app)
costs.register(app)
doctor.register(app)
resolve.register(app)
jobs.register(app)
# Commands registered by other packages' CLI modules go here, one line each.

USES_FFMPEG = {"render", "stitch", "check", "serve", "worker", "emulate", "commit"}


@app.callback()
def _startup(ctx: typer.Context) -> None:
    """Check a configured FFmpeg (``SHOTLINE_FFMPEG``) before any command that would run it."""
    if ctx.invoked_subcommand in USES_FFMPEG and get_settings().ffmpeg is not None:
        try:
            ffmpeg_binary()
        except FFmpegUnsupportedError as exc:
            fail_with(exc, Console(stderr=True), as_json=False)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
