"""``shotline resolve``: settle an attempt whose create may or may not have reached its provider
(``submission_unknown``), then continue its job (``shotline unknowns`` lists them)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from foundation.errors import InvalidInputError, ShotlineError
from shotline.console import fail_with


def register(app: typer.Typer) -> None:
    @app.command()
    def resolve(
        attempt_id: Annotated[int, typer.Argument(help="the attempt's id (shotline unknowns)")],
        provider_job: Annotated[
            str | None,
            typer.Option(
                "--provider-job",
                help="the provider job the create made, in shotline's form (a Vertex operation "
                "name, Luma dm/<id> or agents/<id>, a fal <app>/requests/<id> path)",
            ),
        ] = None,
        not_submitted: Annotated[
            bool,
            typer.Option("--not-submitted", help="the create never reached the provider"),
        ] = False,
    ) -> None:
        """Resolve a submission_unknown attempt: with --provider-job its job is polled; with
        --not-submitted its reservation is released and the shot takes its next attempt. Run the
        same `shotline render` again (or let `shotline serve` resume it) to continue the job."""
        from pipeline import recovery
        from pipeline.context import RunContext
        from shotline.terminal import terminal

        console = terminal(stderr=True)
        try:
            if (provider_job is None) == (not not_submitted):
                raise InvalidInputError("give exactly one of --provider-job ID and --not-submitted")
            job_id = recovery.resolve(RunContext.create("auto"), attempt_id, provider_job)
            typer.echo(f"attempt {attempt_id} resolved; job {job_id} continues when resumed")
        except ShotlineError as exc:
            fail_with(exc, console, False)

    @app.command()
    def unknowns(
        job: Annotated[str | None, typer.Option(help="only this job's")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Attempts waiting for `shotline resolve` (their create's outcome is unknown)."""
        from pipeline import recovery
        from pipeline.context import RunContext
        from shotline.job_info import find_id
        from shotline.terminal import terminal

        ctx = RunContext.create("local")
        try:  # a job that is not there said "no attempt waits" (exit 0)
            job = find_id(ctx.db_url, job) if job is not None else None
        except ShotlineError as exc:
            fail_with(exc, terminal(stderr=True), as_json)
        rows = recovery.unknown_attempts(ctx, job)
        if as_json:
            typer.echo(json.dumps(rows, indent=2, default=str))
            return
        if not rows:
            typer.echo("no attempt waits for `shotline resolve`")
        for row in rows:
            typer.echo(
                f"{row['attempt_id']}\tjob {row['job_id']} shot {row['shot']} "
                f"attempt {row['number']}\t{row['provider']} {row['model']}\t"
                f"holds ${row['reserved_usd']:.2f}\t{row['reason']}"
            )
