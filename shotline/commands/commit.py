"""``shotline commit JOB``: quote the final render of a delivered preview, then render the approved
shots at final (the others keep their preview) and print both versions."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from foundation.errors import ShotlineError
from foundation.states import JobStatus
from shotline.commands.render import PROVIDER_CHOICES, _start_emulator
from shotline.console import fail_with, report_table

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from pipeline.commit_types import Quote
    from pipeline.context import RunContext


def quote_table(quote: Quote) -> Table:
    from rich.table import Table

    remaining = quote.remaining_usd
    caption = (
        f"total ${quote.low_usd:.2f} - ${quote.high_usd:.2f}, expected ${quote.expected_usd:.2f}"
    )
    if remaining is not None:
        caption += f"; budget left ${remaining:.2f}" + ("" if quote.fits else " [red](over)[/]")
    table = Table(title=f"final quote for job {quote.job_id}", caption=caption)
    for column in ("shot", "model", "tier", "seconds", "price", "retakes", "expected", "high"):
        table.add_column(column, justify="left" if column in ("shot", "model", "tier") else "right")
    for line in quote.lines:
        table.add_row(
            line.shot_id,
            line.model_id + (" (first frame)" if line.first_frame else ""),
            line.tier,
            f"{line.seconds:g}",
            f"${line.quote_usd:.2f}",
            f"{line.expected_attempts:.2f}",
            f"${line.expected_usd:.2f}",
            f"${line.high_usd:.2f}",
        )
    return table


def versions_table(data: dict[str, Any]) -> Table:
    from rich.table import Table

    table = Table(title="preview -> final", caption=f"final job {data['final_job_id']}")
    for column in ("shot", "preview", "final", "changed", "agreement"):
        table.add_column(column)
    for shot in data["shots"]:
        final = shot["final"]
        table.add_row(
            shot["id"],
            f"{shot['preview']['model']} ${shot['preview']['cost_usd']:.2f}",
            f"{final['model']} ${final['cost_usd']:.2f} {final['status']}" if final else "kept",
            ", ".join(shot["changes"]),
            "" if shot["agreement"] is None else f"{shot['agreement']:.2f}",
        )
    return table


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def run_commit(
    ctx: RunContext, job_id: str, shots: list[str] | None, *, console: Console, quiet: bool
) -> dict[str, Any]:
    from pipeline import commit as commit_service
    from pipeline.commit_versions import versions
    from pipeline.engine import EmbeddedEngine
    from pipeline.report import job_report

    result = commit_service.commit(ctx, job_id, shots)
    if not quiet:
        console.print(quote_table(result.quote))
        console.print(f"rendering {len(result.shots)} shot(s) at final: {result.final_job_id}")
    EmbeddedEngine(ctx).run(result.final_job_id)
    return {
        "commit": result.to_dict(),
        "report": job_report(ctx.db_url, result.final_job_id),
        "versions": versions(ctx.db_url, result.final_job_id),
    }


def register(app: typer.Typer) -> None:
    @app.command()
    def commit(
        job: Annotated[str, typer.Argument(help="id of a delivered preview job")],
        shots: Annotated[
            list[str] | None,
            typer.Option(
                "--shots", help="approved shot ids (repeat or comma-separate; default all)"
            ),
        ] = None,
        quote_only: Annotated[
            bool, typer.Option("--quote", help="print the final quote; render nothing")
        ] = False,
        providers: Annotated[str, typer.Option(help="local | emulated | live | auto")] = "auto",
        scenario: Annotated[Path | None, typer.Option(help="emulator scenario YAML")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Render the approved shots of a preview at final; the rest keep their preview."""
        from rich.console import Console

        from pipeline import commit as commit_service
        from pipeline.context import RunContext

        console = Console(stderr=as_json)
        approved = _split(shots)
        try:
            if providers not in PROVIDER_CHOICES:
                raise typer.BadParameter(
                    f"--providers must be one of {', '.join(PROVIDER_CHOICES)}"
                )
            ctx = RunContext.create(providers)
            with ExitStack() as stack:
                if providers == "emulated":
                    _start_emulator(ctx, stack, scenario)
                if quote_only:
                    found = commit_service.quote(ctx, job, approved)
                    payload: dict[str, Any] = {"quote": found.to_dict()}
                    if not as_json:
                        console.print(quote_table(found))
                else:
                    payload = run_commit(ctx, job, approved, console=console, quiet=as_json)
        except ShotlineError as exc:
            fail_with(exc, console, as_json)
        if as_json:
            typer.echo(json.dumps(payload, indent=2, default=str))
        elif not quote_only:
            console.print(report_table(payload["report"]))
            console.print(versions_table(payload["versions"]))
        if not quote_only and payload["report"]["status"] != JobStatus.DELIVERED:
            raise typer.Exit(4)
