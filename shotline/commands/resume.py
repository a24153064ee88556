"""``shotline jobs resume``: run an unfinished job to its end in this process.

A render stopped by a signal or a crash is resumed by running the same ``render`` again (its
fingerprint finds the job); a commit's final job, or a job the API created, has no such command:
this one takes any unfinished job by id, on the providers it was created with, with the same live
progress, closing table and exit codes as ``render``.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from foundation.errors import ConflictError, ShotlineError
from foundation.states import JOB_ENDED
from shotline.console import fail_with


def unfinished(db_url: str, ref: str) -> tuple[str, str, list[str], str | None]:
    """The job ``ref`` names (an id or its start): its id, providers, shot keys and output
    path; ``ConflictError`` when it has ended."""
    from shotline import job_info
    from store import jobs
    from store.db import session_scope

    with session_scope(db_url) as session:
        job = job_info.find(session, ref)
        if job.status in JOB_ENDED:
            raise ConflictError(f"job {job.id} is {job.status}: there is nothing to resume")
        keys = [shot.key for shot in jobs.shots_of(session, job.id)]
        return job.id, job.providers, keys, job.output_path


def run_resume(ref: str, scenario: Path | None, *, as_json: bool) -> None:
    """Resume the job, print its table (or JSON) and exit as ``render`` does."""
    from foundation.settings import get_settings
    from pipeline.context import RunContext
    from pipeline.report import job_report
    from shotline.commands.render import (
        _start_emulator,
        conclude,
        copy_delivered,
        refuse_driven_elsewhere,
        watch,
    )
    from shotline.terminal import terminal

    console = terminal(stderr=as_json)
    try:
        settings = get_settings()
        job_id, providers, keys, output = unfinished(settings.db_url, ref)
        ctx = RunContext.create(providers, settings)
        refuse_driven_elsewhere(ctx, job_id)
        with ExitStack() as stack:
            if ctx.emulated:
                _start_emulator(ctx, stack, scenario)
            console.print(f"job {job_id} (resuming it on {providers} providers)", highlight=False)
            again = f"`shotline jobs resume {job_id}` resumes it again"
            watch(ctx, job_id, keys, quiet=as_json, console=console, resume=again)
        report: dict[str, Any] = job_report(ctx.db_url, job_id)
        if report.get("output") and output and ctx.assets.remote:
            copy_delivered(ctx, str(report["output"]), Path(output))
    except ShotlineError as exc:
        fail_with(exc, console, as_json)
    conclude(report, console, as_json=as_json)
