"""The ``shotline`` command line."""

from __future__ import annotations

import logging

import typer

from shotline.commands import (
    budget,
    check,
    commit,
    costs,
    emulate,
    keys,
    models,
    plan,
    render,
    serve,
    stitch,
    worker,
)

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
# Commands registered by other packages' CLI modules go here, one line each.


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
