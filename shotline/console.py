"""Shared terminal output: the closing report table, and error printing with exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from foundation.errors import JobFailedError, ShotlineError
from foundation.money import cents, rounding_note
from shotline.terminal import terminal

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

EDIT = ("otio", "fcpxml", "edl")


CAPTIONS = ("srt", "vtt")


def _report_columns() -> tuple[Any, ...]:
    from shotline.tables import Column

    return (
        Column("shot"),
        Column("model", fold_to=14),
        Column("tries", priority=3, justify="right"),
        Column("verdict"),
        Column("seconds", priority=2, justify="right"),
        Column("cost", justify="right"),
        Column("before that", fold_to=20),
    )


def report_table(report: dict[str, Any], width: int | None = None) -> Table:
    """The closing table of a job: per shot its model, verdict and cost, and what happened to its
    earlier attempts (the refusals and rejections, which fold rather than being cut)."""
    from rich.markup import escape

    from shotline.tables import fit_table

    caption = f"status: {report['status']}{_output_note(report)}" + reused_note(report)
    if report.get("emulated"):
        caption += "  (providers were EMULATED: no money was spent)"
    if report.get("error"):
        caption += f"  error: {escape(str(report['error']))}"
    bed = report.get("music")  # the job's music stage: one row of its own
    parts = [shot["cost_usd"] for shot in report["shots"]] + ([bed["cost_usd"]] if bed else [])
    rounding = rounding_note(parts, report["cost_usd"])
    if rounding:
        caption += f"  ({rounding})"
    rows = [
        [
            shot["id"],
            str(shot["model"]),
            str(shot["attempts"]),
            str(shot["verdict"]),
            f"{shot['seconds']:g}",
            cents(shot["cost_usd"]),
            "\n".join(escape(line) for line in shot.get("history", [])),
        ]
        for shot in report["shots"]
    ]
    if bed:
        said = "reused from the cache" if bed["reused"] else (bed.get("note") or "")
        rows.append(["(music)", str(bed["model"]), str(bed["tries"]), str(bed["status"]), "",
                     cents(bed["cost_usd"]), said])  # fmt: skip
    rows.append(["[bold]total[/]", "", "", "", "", f"[bold]{cents(report['cost_usd'])}[/]", ""])
    title = escape(str(report["title"]))  # the storyboard's words, not markup
    return fit_table(_report_columns(), rows, width, title=title, caption=caption).table


def _output_note(report: dict[str, Any]) -> str:
    """The delivered file and the files beside it, for the closing table's caption (markup: the
    paths are escaped, a folder named ``[x]`` being a path, not a style)."""
    from rich.markup import escape

    if not report.get("output"):
        return ""
    files = report.get("files", {})
    note = f"  output: {escape(str(report.get('copied_to') or report['output']))}"
    if report.get("copied_to"):
        note += f" (copied from {escape(str(report['output']))})"
    for label, names in (
        ("edit", [n for n in files if n in EDIT]),
        ("captions", [n for n in files if n in CAPTIONS]),
        ("variants", [n for n in files if n.startswith("variant_")]),
    ):
        if names:
            note += f"  {label}: {escape(', '.join(Path(files[n]).name for n in names))}"
    native = [
        f"{shot['id']} {label}"
        for shot in report["shots"]
        for label, row in (shot.get("variants") or {}).items()
        if row.get("render") == "native"
    ]
    if native:
        note += f" (rendered natively: {', '.join(native)})"
    loudness = ((report.get("verification") or {}).get("checks") or {}).get("loudness") or {}
    if loudness.get("passed") and loudness.get("reachable_lufs") is not None:
        note += f"  quieter than asked: {loudness['note']}"
    return note


def fail_with(exc: ShotlineError, console: Console, as_json: bool) -> NoReturn:
    """Print ``exc`` (one line per problem) and exit with its exit code."""
    headline = exc.message.splitlines()[0]
    # an error without problems of its own carries its message as one: it is the headline already
    problems = [str(p) for p in getattr(exc, "problems", []) if str(p) != headline]
    if as_json:
        payload: dict[str, Any] = {
            "error": type(exc).__name__,
            "detail": headline,
        }
        if problems:
            payload["problems"] = problems
        if isinstance(exc, JobFailedError):
            payload |= {"stage": exc.stage, "shot": exc.shot_id}
        typer.echo(json.dumps(payload, indent=2))
    else:
        from rich.markup import escape

        err = terminal(stderr=True)
        err.print(f"[red]error:[/] {escape(headline)}", highlight=False, soft_wrap=True)
        if problems:  # an invalid input's, or e.g. a bad prompt policy's rules
            for line in problems:
                err.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def reused_note(report: dict[str, Any]) -> str:
    """What the job reused from the cache and the money saved (``report.reused``), or ""."""
    reused = report.get("reused") or {
        "videos": report.get("cached_shots") or [], "saved_usd": report.get("saved_usd") or 0.0,
    }  # fmt: skip
    names = {"videos": "shots", "sheets": "sheets", "keyframes": "keyframes", "tts": "tts lines"}
    parts = [f"{len(reused[key])} {name}" for key, name in names.items() if reused.get(key)]
    parts += ["the music bed"] if reused.get("music") else []
    if not parts:
        return ""
    return f"  ({', '.join(parts)} reused from the cache, ${reused['saved_usd']:.2f} saved)"
