"""The ``shotline`` command line.

Start-up stays light: importing this module, ``--help``, ``--version`` and ``COMMAND --help`` load
typer and the command modules only; each command imports the stack it runs on (FastAPI, Celery,
SQLAlchemy, PyAV, OpenCV...) inside its function. ``tests/shotline/test_startup.py`` holds that line.
"""

from __future__ import annotations

import io
import logging
import sys
from typing import Annotated

import typer

from shotline.commands import (
    budget,
    check,
    commit,
    costs,
    doctor,
    draft,
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
from shotline.group import COMMAND, HELP_ONLY, ShotlineGroup

app = typer.Typer(
    cls=ShotlineGroup,
    no_args_is_help=True,
    add_completion=False,
    help="AI video backend: storyboard in, video out.",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
    # Click's plain help: typer's rich help imports Markdown and Pygments, ~3x the start-up.
    rich_markup_mode=None,
)
render.register(app)
plan.register(app)
draft.register(app)
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

USES_FFMPEG = {"render", "stitch", "check", "serve", "worker", "emulate", "commit", "jobs resume"}


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"shotline {version('shotline')}")
        raise typer.Exit()


@app.callback()
def _startup(
    ctx: typer.Context,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version."
        ),
    ] = False,
) -> None:
    """Read the settings before any command (a variable holding a value its setting cannot take
    ends the command naming the variable), and check a configured FFmpeg (``SHOTLINE_FFMPEG``)
    before any command that would run it."""
    if ctx.meta.get(HELP_ONLY):
        return
    from foundation.settings import SettingsError, get_settings

    try:
        settings = get_settings()
    except SettingsError as exc:
        from shotline.terminal import terminal

        fail_with(exc, terminal(stderr=True), as_json=False)
    if ctx.meta.get(COMMAND) not in USES_FFMPEG or settings.ffmpeg is None:
        return
    from media.errors import FFmpegUnsupportedError
    from media.ffmpeg import ffmpeg_binary

    try:
        ffmpeg_binary()
    except FFmpegUnsupportedError as exc:
        from shotline.terminal import terminal

        fail_with(exc, terminal(stderr=True), as_json=False)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _printable_output()
    app()


def _printable_output() -> None:
    """Standard output that cannot encode a character (a terminal in Latin-1, or
    ``PYTHONIOENCODING=ascii``) escapes it, as standard error already does: a storyboard titled
    with an emoji ended ``plan``, and ``render`` after its paid render, in UnicodeEncodeError."""
    if isinstance(sys.stdout, io.TextIOWrapper) and sys.stdout.errors == "strict":
        sys.stdout.reconfigure(errors="backslashreplace")
