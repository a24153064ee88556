"""``shotline jobs``: find jobs (every tenant's, in the local database), show one with its shots
and files, resume an unfinished one (``shotline.commands.resume``), cancel one the way
``POST /v1/jobs/{id}/cancel`` does, open a delivered one's video.

A job is named by its id or by any unique start of it (``jobs list`` prints the first 8 hex
digits)."""

from __future__ import annotations

import json
import os
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from foundation.errors import ConflictError, NotFoundError, ShotlineError
from foundation.states import JOB_UNFINISHED, AttemptStatus, JobStatus, ShotStatus
from shotline.console import fail_with
from shotline.tables import Column, fit_table, left_out_note, print_wide

if TYPE_CHECKING:
    from rich.console import Console

LIST_COLUMNS = (
    Column("id"),
    Column("title", priority=5, fold_to=16),
    Column("tenant", priority=2, fold_to=8),
    Column("status"),
    Column("stage", priority=3),
    Column("shots", justify="right"),
    Column("cost", justify="right"),
    Column("created", priority=1, justify="right"),
)
SHOT_COLUMNS = (
    Column("shot"),
    Column("status"),
    Column("attempt", priority=3),
    Column("model", fold_to=14),
    Column("tries", priority=2, justify="right"),
    Column("cost", justify="right"),
    Column("detail", priority=1, fold_to=16),
)
_STYLE = {"delivered": "green", "failed": "red", "cancelled": "yellow", "running": "cyan"}


def _styled(status: str) -> str:
    return f"[{_STYLE[status]}]{status}[/]" if status in _STYLE else status


def _list_rows(found: list[dict[str, Any]], wide: bool) -> list[list[str]]:
    from rich.markup import escape

    from shotline import job_info

    now = datetime.now(UTC)
    return [
        [
            job["id"] if wide else job["id"][: job_info.SHORT_ID],
            escape(job["title"]),
            job["tenant"],
            _styled(job["status"]),
            job["stage"],
            f"{job['shots_done']}/{job['shots']}",
            f"${job['cost_usd']:.2f}" + ("*" if job["emulated"] else ""),
            job_info.created_label(datetime.fromisoformat(job["created_at"]), now),
        ]
        for job in found
    ]


def _shot_detail(shot: dict[str, Any]) -> str:
    from rich.markup import escape

    lines = [*shot.get("history", []), *([shot["error"]] if shot.get("error") else [])]
    return "\n".join(escape(str(line)) for line in lines)


def _times(data: dict[str, Any]) -> str:
    from shotline.progress import clock

    created = datetime.fromisoformat(data["created_at"])
    text = f"created {created:%Y-%m-%d %H:%M} UTC"
    if data["status"] not in JOB_UNFINISHED:
        took = datetime.fromisoformat(data["updated_at"]) - created
        text += f", ended after {clock(took.total_seconds())}"
    return text


def orphan_note(data: dict[str, Any]) -> str | None:
    """For an unfinished job no process on this machine drives (its render was killed, its
    terminal closed): how to finish it. None under the Celery engine, whose workers drive jobs
    on other machines."""
    from foundation.settings import get_settings
    from pipeline.driver import is_driven

    settings = get_settings()
    if data["status"] not in JOB_UNFINISHED or settings.engine == "celery":
        return None
    if is_driven(settings, data["id"]):
        return None
    held = [
        a for s in data["shots"] for a in s["attempt_log"] if a["status"] == "submission_unknown"
    ]
    if held:  # the engine let it go until an operator says whether its create landed
        return (
            f"it waits for `shotline resolve` ({len(held)} attempt(s) whose create may have "
            f"reached the provider: `shotline unknowns --job {data['id']}` lists them)"
        )
    return (
        f"no process on this machine runs it (stopped by kill -9, a crash or a closed terminal?): "
        f"`shotline jobs resume {data['id']}` finishes it, `shotline jobs cancel {data['id']}` "
        "closes it"
    )


def _print_detail(data: dict[str, Any], console: Console, wide: bool) -> None:
    from rich.markup import escape

    costs = data["costs"]
    emulated = " (EMULATED: no money spent)" if data["emulated"] else ""
    lines = [
        f"job {data['id']}  {escape(data['title'])}",
        f"tenant {data['tenant']}, {data['mode']}, providers {data['providers']}{emulated}",
        f"status {_styled(data['status'])}"
        + (f" (stage {data['stage']})" if data["stage"] != data["status"] else ""),
        _times(data),
        f"cost ${costs['spent_usd']:.2f} spent (${costs['settled_usd']:.2f} settled by providers), "
        f"${costs['quoted_usd']:.2f} quoted, "
        f"${costs['reserved_usd']:.2f} reserved"
        + (f", budget ${costs['budget_usd']:.2f}" if costs["budget_usd"] is not None else ""),
    ]
    if data["error"]:
        lines.append(f"[red]error[/] {escape(data['error'])}")
    for line in lines:
        console.print(line, highlight=False)
    rows = [
        [
            shot["id"],
            _styled(shot["status"]),
            shot["attempt_log"][-1]["status"] if shot["attempt_log"] else "",
            str(shot["model"] or ""),
            str(shot["attempts"]),
            f"${shot['cost_usd']:.2f}",
            _shot_detail(shot),
        ]
        for shot in data["shots"]
    ]
    width = None if wide else console.width
    fitted = fit_table(SHOT_COLUMNS, rows, width, title="shots")
    if wide:
        print_wide(fitted.table)
    else:
        console.print(fitted.table)
    for name, path in data["outputs"].items():
        console.print(
            f"{name.replace('_', ' ')}: {path}", highlight=False, markup=False, soft_wrap=True
        )
    if not data["outputs"] and data["output_path"]:
        console.print(
            f"output (when delivered): {data['output_path']}", markup=False, soft_wrap=True
        )


def _cancel(ref: str) -> str:
    """Cancel through ``pipeline.assembly.cancel_job`` (as the API does); returns what it did."""
    from foundation.settings import get_settings
    from pipeline.assembly import cancel_job
    from pipeline.context import RunContext
    from shotline import job_info
    from shotline.commands.render import _start_emulator

    db_url = get_settings().db_url
    job_id = job_info.find_id(db_url, ref)
    before = job_info.detail(db_url, job_id)
    if before["status"] == JobStatus.CANCELLED:
        return f"job {job_id} was already cancelled; nothing to do"
    if before["status"] not in JOB_UNFINISHED:
        raise ConflictError(f"job {job_id} already ended ({before['status']}); nothing to cancel")
    ctx = RunContext.create(before["providers"])
    with ExitStack() as stack:
        if ctx.emulated:  # its provider jobs live in an emulator: the shared one, else a new one
            _start_emulator(ctx, stack, None)
        moved = cancel_job(ctx, job_id)
    after = job_info.detail(db_url, job_id)
    if not moved:
        raise ConflictError(f"job {job_id} ended meanwhile ({after['status']}); nothing cancelled")
    return _cancel_summary(before, after)


def _cancel_summary(before: dict[str, Any], after: dict[str, Any]) -> str:
    def attempts(data: dict[str, Any]) -> dict[int, str]:
        return {a["id"]: a["status"] for s in data["shots"] for a in s["attempt_log"]}

    old, new = attempts(before), attempts(after)
    closed = sum(  # not an attempt a running engine accepted meanwhile
        1
        for key, status in new.items()
        if status == AttemptStatus.CANCELLED and old.get(key) != status
    )
    shots = sum(
        1
        for a, b in zip(before["shots"], after["shots"], strict=True)
        if a["status"] != b["status"] and b["status"] == ShotStatus.CANCELLED
    )
    held = sum(1 for status in new.values() if status == AttemptStatus.SUBMISSION_UNKNOWN)
    released = before["costs"]["reserved_usd"] - after["costs"]["reserved_usd"]
    text = (
        f"cancelled job {after['id']} (was {before['status']}): {closed} open attempt(s) "
        f"closed, {shots} shot(s) cancelled, ${released:.2f} of reservations released"
    )
    if held:
        text += f"; {held} attempt(s) wait for shotline resolve and keep their reservation"
    return text


def has_display() -> bool:
    """Whether a file opener can show a window: macOS and Windows always, else an X or Wayland
    display."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _video(ref: str) -> str:
    """The delivered video of a job."""
    from foundation.settings import get_settings
    from shotline import job_info

    db_url = get_settings().db_url
    data = job_info.detail(db_url, job_info.find_id(db_url, ref))
    video = data["outputs"].get("video")
    if video is None:
        if data["status"] == JobStatus.DELIVERED:
            raise NotFoundError(f"job {data['id']} was delivered to {data['output_path']}, gone")
        raise ConflictError(f"job {data['id']} is {data['status']}: it has no video to open")
    from pipeline.assets import store_for

    return str(store_for(get_settings()).local(video))  # fetched here from a remote store


def register(app: typer.Typer) -> None:
    jobs = typer.Typer(
        help="Find, show, resume, cancel and open jobs (every tenant's; JOB is an id or its start).",
        invoke_without_command=True,
    )
    app.add_typer(jobs, name="jobs")

    @jobs.callback()
    def default(ctx: typer.Context) -> None:
        """``shotline jobs`` alone lists the latest jobs."""
        if ctx.invoked_subcommand is None:
            list_command(status=None, tenant=None, since=None, limit=20, wide=False, as_json=False)

    @jobs.command("list")
    def list_command(
        status: Annotated[str | None, typer.Option(help="one status only")] = None,
        tenant: Annotated[str | None, typer.Option(help="one tenant only")] = None,
        since: Annotated[
            str | None, typer.Option(help="created since: an age (30m, 2h, 3d, 1w) or a date")
        ] = None,
        limit: Annotated[int, typer.Option(min=1, max=1000, help="at most this many")] = 20,
        wide: Annotated[bool, typer.Option("--wide", help="every column, full ids")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """The latest jobs, newest first: id, tenant, status, stage, shots done, cost, age."""
        from foundation.settings import get_settings
        from shotline import job_info
        from shotline.terminal import terminal

        console = terminal(stderr=as_json)
        settings = get_settings()
        try:
            start = job_info.parse_since(since, datetime.now(UTC)) if since else None
            found = job_info.list_jobs(
                settings.db_url, tenant=tenant, status=status, since=start, limit=limit
            )
        except ShotlineError as exc:
            fail_with(exc, console, as_json)
        if as_json:
            typer.echo(json.dumps(found, indent=2))
            return
        if not found:
            # where it looked: a new folder holds none (the data are read from the current one)
            where = (
                "SHOTLINE_DATABASE_URL"
                if settings.database_url
                else str(settings.data_dir.resolve())
            )
            said = "no jobs" + (" match" if status or tenant or since else " yet")
            console.print(f"{said} in {where}", highlight=False, markup=False, soft_wrap=True)
            return
        width = None if wide else console.width
        fitted = fit_table(LIST_COLUMNS, _list_rows(found, wide), width, title="jobs")
        if wide:
            print_wide(fitted.table)
            return
        console.print(fitted.table)
        note = left_out_note(fitted, console.width)
        if note:
            console.print(note)
        if any(job["emulated"] for job in found):
            console.print("* emulated providers: no money was spent")

    @jobs.command("show")
    def show(
        job: Annotated[str, typer.Argument(help="job id or its start")],
        wide: Annotated[bool, typer.Option("--wide", help="every column")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """One job: status, money, its shots with their attempts, and its files."""
        from foundation.settings import get_settings
        from shotline import job_info
        from shotline.terminal import terminal

        console = terminal(stderr=as_json)
        try:
            db_url = get_settings().db_url
            data = job_info.detail(db_url, job_info.find_id(db_url, job))
        except ShotlineError as exc:
            fail_with(exc, console, as_json)
        if as_json:
            typer.echo(json.dumps(data, indent=2, default=str))
        else:
            _print_detail(data, console, wide)
            if (note := orphan_note(data)) is not None:
                console.print(f"[yellow]note:[/] {note}", highlight=False)

    @jobs.command("resume")
    def resume(
        job: Annotated[str, typer.Argument(help="job id or its start")],
        scenario: Annotated[
            Path | None, typer.Option(help="emulator scenario YAML (a job on emulated providers)")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print a JSON report")] = False,
    ) -> None:
        """Run an unfinished job (stopped, crashed, a commit's final) to its end here, on the
        providers it was created with; exit 1 when it has ended, else as render."""
        from shotline.commands.resume import run_resume

        run_resume(job, scenario, as_json=as_json)

    @jobs.command("cancel")
    def cancel(
        job: Annotated[str, typer.Argument(help="job id or its start")],
        as_json: Annotated[bool, typer.Option("--json", help="print the job as JSON")] = False,
    ) -> None:
        """Cancel a planned or running job as the API does; exit 1 when it has already ended."""
        from foundation.settings import get_settings
        from shotline import job_info
        from shotline.terminal import terminal

        console = terminal(stderr=as_json)
        try:
            said = _cancel(job)
        except ShotlineError as exc:
            fail_with(exc, console, as_json)
        if as_json:
            db_url = get_settings().db_url
            data = job_info.detail(db_url, job_info.find_id(db_url, job))
            typer.echo(json.dumps(data | {"message": said}, indent=2, default=str))
        else:
            console.print(said, highlight=False)

    @jobs.command("open")
    def open_command(
        job: Annotated[str, typer.Argument(help="job id or its start")],
        launch: Annotated[
            bool, typer.Option("--launch/--print", help="open it, or only print its path")
        ] = True,
    ) -> None:
        """Print a delivered job's video path; open it too when there is a display."""
        from shotline.terminal import terminal

        try:
            path = _video(job)
        except ShotlineError as exc:
            fail_with(exc, terminal(stderr=True), as_json=False)
        typer.echo(path)
        if launch and has_display():
            typer.launch(path)
