"""``shotline commit JOB``: quote the final render of a delivered preview, then render the approved
shots at final (the others keep their preview) with live progress, and print both versions. The
final goes beside the preview's file as ``OUT.final.mp4`` (``OUT.final-2.mp4``... when an earlier
commit has that name: nothing is overwritten)."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from foundation.errors import ShotlineError
from foundation.money import cents, rounding_note
from shotline.commands.render import _start_emulator, exit_for, watch
from shotline.console import fail_with, report_table
from shotline.emulated import refuse_scenario_alone
from shotline.options import Providers
from shotline.services import check_shared
from shotline.tables import Column, fit_table

QUOTE_COLUMNS = (
    Column("shot"),
    Column("model", fold_to=14),
    Column("tier", priority=3),
    Column("seconds", priority=2, justify="right"),
    Column("price", priority=4, justify="right"),
    Column("retakes", priority=5, justify="right"),
    Column("expected", justify="right"),
    Column("high", priority=1, justify="right"),
)
VERSION_COLUMNS = (
    Column("shot"),
    Column("preview", fold_to=14),
    Column("final", fold_to=14),
    Column("changed", priority=2, fold_to=12),
    Column("agreement", priority=1, justify="right"),
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from pipeline.commit_types import Quote
    from pipeline.context import RunContext


def quote_table(quote: Quote, width: int | None = None) -> Table:
    remaining = quote.remaining_usd
    caption = (
        f"total {cents(quote.low_usd)} - {cents(quote.high_usd)}, "
        f"expected {cents(quote.expected_usd)}"
    )
    shown = [line.expected_usd for line in quote.lines] + [s.quote_usd for s in quote.stages]
    rounding = rounding_note(shown, quote.expected_usd)
    if rounding:
        caption += f" (expected: {rounding})"
    if remaining is not None:
        caption += f"; budget left {cents(remaining)}" + ("" if quote.fits else " [red](over)[/]")
    rows = [
        [
            line.shot_id,
            line.model_id
            + (f" ({len(line.segments)} segments)" if line.segments else "")
            + (" (first frame)" if line.first_frame else ""),
            line.tier,
            f"{line.seconds:g}",
            cents(line.quote_usd),
            f"{line.expected_attempts:.2f}",
            cents(line.expected_usd),
            cents(line.high_usd),
        ]
        for line in quote.lines
    ]
    for stage in quote.stages:  # a stage has no retakes: its price is its expected and high
        price = cents(stage.quote_usd)
        model = f"{stage.stage}: {stage.model_id}" + (" (reused)" if stage.reused else "")
        rows.append([stage.owner, model, "", "", price, "", price, price])
    title = f"final quote for job {quote.job_id}"
    return fit_table(QUOTE_COLUMNS, rows, width, title=title, caption=caption).table


def versions_table(data: dict[str, Any], width: int | None = None) -> Table:
    rows = []
    for shot in data["shots"]:
        final = shot["final"]
        rows.append(
            [
                shot["id"],
                f"{shot['preview']['model']} {cents(shot['preview']['cost_usd'])}",
                f"{final['model']} {cents(final['cost_usd'])} {final['status']}"
                if final
                else ("declined" if shot.get("rejected") else "kept"),
                ", ".join(shot["changes"]),
                "" if shot["agreement"] is None else f"{shot['agreement']:.2f}",
            ]
        )
    caption = f"final job {data['final_job_id']}"
    return fit_table(VERSION_COLUMNS, rows, width, title="preview -> final", caption=caption).table


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def resume_final(job_id: str) -> str:
    return (
        f"`shotline jobs resume {job_id}` resumes it (`shotline serve` too, when it starts; "
        "`shotline jobs cancel` closes it); a new commit of its shots is refused until it ends"
    )


def run_commit(
    ctx: RunContext,
    job_id: str,
    shots: list[str] | None,
    *,
    console: Console,
    quiet: bool,
    rejected: list[str] | None = None,
) -> dict[str, Any]:
    """Create the final job, print its id (first), its quote, then run it with live progress."""
    from pipeline import commit as commit_service
    from pipeline.commit_versions import versions
    from pipeline.report import job_report
    from store import jobs
    from store.db import session_scope
    from store.models import Job

    result = commit_service.commit(ctx, job_id, shots, rejected)
    final_id = result.final_job_id
    with session_scope(ctx.db_url) as session:
        keys = [shot.key for shot in jobs.shots_of(session, final_id)]
        output = session.get_one(Job, final_id).output_path
    into = f", into {output}" if output else ""
    console.print(
        f"job {final_id} (final render of {len(result.shots)} shot(s) of preview {job_id}){into}",
        highlight=False,
        soft_wrap=True,
    )
    if not quiet:
        print_local_note(ctx, console)
        console.print(quote_table(result.quote, console.width))
    watch(ctx, final_id, keys, quiet=quiet, console=console, resume=resume_final(final_id))
    return {
        "commit": result.to_dict(),
        "report": job_report(ctx.db_url, final_id),
        "versions": versions(ctx.db_url, final_id),
    }


def print_local_note(ctx: RunContext, console: Console) -> None:
    """The note that the final renders on the local animatic (``notes.local_final_note``), after
    the final's ``job ID`` line, which comes first."""
    from shotline.notes import local_final_note

    if (note := local_final_note(ctx)) is not None:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


def register(app: typer.Typer) -> None:
    @app.command()
    def commit(
        job: Annotated[
            str, typer.Argument(help="id (or a unique start of it) of a delivered preview job")
        ],
        shots: Annotated[
            list[str] | None,
            typer.Option(
                "--shots",
                metavar="IDS",
                help="approved shot ids (repeat or comma-separate; default all)",
            ),
        ] = None,
        reject: Annotated[
            list[str] | None,
            typer.Option(
                "--reject",
                metavar="IDS",
                help="shot ids reviewed and declined at final (repeat or comma-separate): "
                "they keep their preview and count as cost avoided",
            ),
        ] = None,
        quote_only: Annotated[
            bool, typer.Option("--quote", help="print the final quote; render nothing")
        ] = False,
        providers: Providers = "auto",
        scenario: Annotated[Path | None, typer.Option(help="emulator scenario YAML")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Render the approved shots of a preview at final; the rest keep their preview."""
        from pipeline import commit as commit_service
        from pipeline.context import RunContext
        from shotline import job_info
        from shotline.terminal import terminal

        console = terminal(stderr=as_json)
        approved = _split(shots)
        try:
            refuse_scenario_alone(providers, scenario)
            ctx = RunContext.create(providers)
            check_shared(ctx)
            job = job_info.find_id(ctx.db_url, job)
            with ExitStack() as stack:
                if providers == "emulated":
                    _start_emulator(ctx, stack, scenario)
                if quote_only:
                    found = commit_service.quote(ctx, job, approved)
                    payload: dict[str, Any] = {"quote": found.to_dict()}
                    if not as_json:
                        print_local_note(ctx, console)
                        console.print(quote_table(found, console.width))
                else:
                    payload = run_commit(
                        ctx, job, approved, console=console, quiet=as_json, rejected=_split(reject)
                    )
        except ShotlineError as exc:
            fail_with(exc, console, as_json)
        if as_json:
            typer.echo(json.dumps(payload, indent=2, default=str))
        elif not quote_only:
            console.print(report_table(payload["report"], console.width))
            console.print(versions_table(payload["versions"], console.width))
        if not quote_only:
            exit_for(payload["report"], console)
