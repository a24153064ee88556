"""Shared terminal output: progress and report tables, and error printing with exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from foundation.errors import InvalidInputError, JobFailedError, ShotlineError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

EDIT = ("otio", "fcpxml", "edl")
_STYLE = {"accepted": "green", "normalised": "green", "failed": "red", "gated": "yellow"}


def progress_table(state: dict[str, dict[str, Any]]) -> Table:
    from rich.table import Table

    table = Table(title="rendering", expand=False)
    for column in ("shot", "stage", "model", "attempt", "detail"):
        table.add_column(column)
    for key, row in state.items():
        status = str(row.get("status", ""))
        detail = row.get("action") or row.get("error_kind") or row.get("reason") or ""
        table.add_row(
            key,
            f"[{_STYLE.get(status, 'white')}]{status}[/]",
            str(row.get("model", "")),
            str(row.get("attempt", "")),
            str(detail)[:60],
        )
    return table


def report_table(report: dict[str, Any]) -> Table:
    from rich.table import Table

    caption = f"status: {report['status']}"
    if report.get("output"):
        caption += f"  output: {report['output']}"
        edit = [Path(path).name for name, path in report.get("files", {}).items() if name in EDIT]
        if edit:
            caption += f"  edit: {', '.join(edit)}"
    if report.get("cached_shots"):
        caption += f"  ({len(report['cached_shots'])} shots reused from the cache, ${report['saved_usd']:.2f} saved)"
    if report.get("emulated"):
        caption += "  (providers were EMULATED: no money was spent)"
    if report.get("error"):
        caption += f"  error: {report['error']}"
    table = Table(title=report["title"], caption=caption)
    for column in ("shot", "model", "attempts", "verdict", "seconds", "cost", "before that"):
        table.add_column(
            column, justify="right" if column in ("attempts", "seconds", "cost") else "left"
        )
    for shot in report["shots"]:
        table.add_row(
            shot["id"],
            str(shot["model"]),
            str(shot["attempts"]),
            str(shot["verdict"]),
            f"{shot['seconds']:g}",
            f"${shot['cost_usd']:.2f}",
            "; ".join(shot.get("history", [])),
        )
    table.add_row("total", "", "", "", "", f"${report['settled_usd']:.2f}", "", style="bold")
    return table


def fail_with(exc: ShotlineError, console: Console, as_json: bool) -> NoReturn:
    """Print ``exc`` (one line per problem) and exit with its exit code."""
    problems = [str(p) for p in getattr(exc, "problems", [])]
    if as_json:
        payload: dict[str, Any] = {
            "error": type(exc).__name__,
            "detail": exc.message.splitlines()[0],
        }
        if problems:
            payload["problems"] = problems
        if isinstance(exc, JobFailedError):
            payload |= {"stage": exc.stage, "shot": exc.shot_id}
        typer.echo(json.dumps(payload, indent=2))
    else:
        from rich.console import Console

        err = Console(stderr=True)
        err.print(f"[red]error:[/] {exc.message.splitlines()[0]}", highlight=False)
        if isinstance(exc, InvalidInputError):
            for line in problems:
                err.print(f"  {line}", highlight=False, markup=False)
    raise typer.Exit(exc.exit_code)
