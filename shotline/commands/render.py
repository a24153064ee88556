"""``shotline render``: a storyboard to a stitched MP4, with live progress and a closing table."""

from __future__ import annotations

import hashlib
import json
import signal
import time
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from foundation.errors import InvalidInputError, Problem, ShotlineError
from foundation.modes import Mode
from foundation.states import JOB_ENDED, JOB_UNFINISHED, AttemptStatus, JobStatus
from foundation.stopping import DiskFull, stop_on_disk_full
from shotline.console import fail_with, report_table
from shotline.emulated import refuse_scenario_alone, use_emulator
from shotline.options import Providers
from shotline.paths import writable_video
from shotline.services import check_shared

if TYPE_CHECKING:
    from rich.console import Console

    from foundation.storyboard import Storyboard
    from pipeline.context import RunContext
    from pipeline.events import Listener


def fingerprint(board: Storyboard, mode: Mode, providers: str, output: Path) -> str:
    blob = json.dumps([board.model_dump(mode="json"), str(mode), providers, str(output.resolve())])
    return hashlib.sha256(blob.encode()).hexdigest()


def _unfinished_job(
    ctx: RunContext, print_: str | None = None, output: Path | None = None
) -> str | None:
    """The newest unfinished job of this render (its fingerprint ``print_``), or of any render
    into ``output``."""
    from sqlalchemy import select

    from store.db import session_scope
    from store.models import Job

    query = select(Job.id).where(Job.status.in_(JOB_UNFINISHED))
    if print_ is not None:
        query = query.where(Job.fingerprint == print_)
    if output is not None:
        query = query.where(Job.output_path == str(output.resolve()))
    with session_scope(ctx.db_url) as session:
        return session.scalar(query.order_by(Job.created_at.desc()))


def refuse_other_writer(ctx: RunContext, output: Path) -> None:
    """Refuse (exit 2, before any spend) a new render into ``output`` while an unfinished job of
    another storyboard or settings writes there: resumed later (``jobs resume``, ``serve``), it
    would write over this render's file, and its shots in flight would be paid for twice."""
    other = _unfinished_job(ctx, output=output)
    if other is not None:
        raise InvalidInputError(
            f"job {other}, unfinished, renders into {output} from another storyboard or "
            "settings; nothing was rendered",
            [
                Problem(
                    "--output",
                    f"`shotline jobs resume {other}` finishes it, `shotline jobs cancel {other}` "
                    "closes it (what it paid stays paid); or choose another -o path",
                )
            ],
        )


def _start_emulator(ctx: RunContext, stack: ExitStack, scenario: Path | None) -> None:
    """Point the adapters at an emulator (``use_emulator``) and poll it often: its renders are
    quick."""
    use_emulator(ctx, stack, scenario)
    ctx.settings.poll_interval_s = min(ctx.settings.poll_interval_s, 0.2)


def run_render(
    ctx: RunContext, board: Storyboard, mode: Mode, output: Path, *, quiet: bool, console: Console
) -> dict[str, Any]:
    """Create (or resume) the job, print its id, run it with live progress, return its report."""
    from rich.markup import escape

    from pipeline.planning import create_job
    from pipeline.report import job_report
    from shotline.notes import notes

    print_ = fingerprint(board, mode, ctx.providers, output)
    job_id = _unfinished_job(ctx, print_)
    resumed = job_id is not None
    if job_id is None:
        refuse_other_writer(ctx, output)
        job_id = create_job(ctx, board, mode=mode, output=output, fingerprint=print_)
    else:
        refuse_driven_elsewhere(ctx, job_id)
    console.print(f"job {job_id}" + (" (resuming it: it was unfinished)" if resumed else ""))
    for note in notes(ctx, board, mode):
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    watch(ctx, job_id, shot_keys(ctx, job_id), quiet=quiet, console=console)
    report = job_report(ctx.db_url, job_id)
    if report.get("output") and ctx.assets.remote:
        copy_delivered(ctx, str(report["output"]), output)
        report["copied_to"] = str(output)  # the closing table names the file here, not the URL
    return report


def shot_keys(ctx: RunContext, job_id: str) -> list[str]:
    """The job's shots as it renders them: a long take's parts (``take.part1``...) included."""
    from store import jobs
    from store.db import session_scope

    with session_scope(ctx.db_url) as session:
        return [shot.key for shot in jobs.shots_of(session, job_id)]


def refuse_driven_elsewhere(ctx: RunContext, job_id: str) -> None:
    """Refuse to resume a job another process on this machine runs now (``pipeline.driver``);
    the Celery engine's commands only follow their jobs, so any number may."""
    from pipeline.driver import DrivenElsewhereError, holder_elsewhere

    if ctx.settings.engine != "celery" and (holder := holder_elsewhere(ctx.settings, job_id)):
        raise DrivenElsewhereError(job_id, holder)


def copy_delivered(ctx: RunContext, ref: str, output: Path) -> None:
    """Copy a deliverable from a remote asset store to ``output``, with its variants and
    sidecars (``OUT.9x16.mp4``, ``OUT.srt``...) renamed after it."""
    import shutil

    from pipeline.assets import siblings

    delivered = ctx.assets.local(ref)
    output.parent.mkdir(parents=True, exist_ok=True)
    for path in siblings(delivered):
        shutil.copyfile(path, output.with_name(output.stem + path.name[len(delivered.stem) :]))


RESUME = "run the same command again to resume it"


def watch(
    ctx: RunContext,
    job_id: str,
    shots: list[str],
    *,
    quiet: bool,
    console: Console,
    resume: str = RESUME,
) -> None:
    """``drive`` the job, with its live progress on ``console`` unless ``quiet`` (``--json``: a
    stop is then also a JSON object on stdout). SIGINT (Ctrl-C) and SIGTERM stop it politely
    (``shotline.stopping``): the job is left unfinished, and the command exits 130 or 143 saying
    so and how it is ``resume``d."""
    from functools import partial

    from rich.live import Live

    from pipeline.report import spend_so_far
    from shotline.progress import JobProgress
    from shotline.stopping import stop_signals

    stop_on_disk_full()
    try:
        with stop_signals():
            if quiet:
                drive(ctx, job_id, None)
                return
            progress = JobProgress(
                job_id, shots, console, partial(spend_so_far, ctx.db_url, job_id)
            )
            with Live(progress, console=console, refresh_per_second=4):
                drive(ctx, job_id, progress.on_event)
    except KeyboardInterrupt as stop:
        if not quiet:
            console.print()  # below the live table
        stopped(ctx, job_id, stop, console, resume, as_json=quiet)
    except DiskFull as full:
        if not quiet:
            console.print()
        out_of_space(ctx, job_id, full, console, resume, as_json=quiet)
    console.print()


def out_of_space(
    ctx: RunContext, job_id: str, full: DiskFull, console: Console, resume: str, *, as_json: bool
) -> NoReturn:
    """A step met a full disk: stop the engine, say where space is wanted, exit 1."""
    from shotline.stopping import stop_engine

    stop_engine()
    folders = ", ".join(str(folder) for folder in ctx.settings.written_folders)
    said = (
        f"{full} (shotline writes under {folders}): job {job_id} is unfinished and keeps what it "
        f"paid for; free space, then {resume}"
    )
    _say_stopped(console, said, as_json, error="DiskFull", job_id=job_id, status="unfinished")
    raise typer.Exit(1)


def stopped(
    ctx: RunContext,
    job_id: str,
    stop: KeyboardInterrupt,
    console: Console,
    resume: str,
    *,
    as_json: bool = False,
) -> NoReturn:
    """The render was stopped by a signal: stop the engine, say what is left, exit 128 + it."""
    from pipeline.engine import ended
    from shotline.stopping import end_by_signal, exit_code, signum_of, stop_engine

    signum = signum_of(stop)
    celery = ctx.settings.engine == "celery"
    idle = celery or stop_engine()
    status = ended(ctx, job_id)
    if status in JOB_ENDED:  # its last step ended during the stop
        left, state = f"ended ({status}) as it stopped", str(status)
    elif celery:
        left, state = f"goes on on the workers (`shotline jobs show {job_id}`)", "running"
    else:
        left, state = f"is unfinished and keeps what it paid for; {resume}", "unfinished"
    said = f"stopped ({signal.Signals(signum).name}): job {job_id} {left}"
    _say_stopped(console, said, as_json, error="Stopped", job_id=job_id, status=state)
    if not idle:
        end_by_signal(signum)
    raise typer.Exit(exit_code(signum))


def _say_stopped(
    console: Console, said: str, as_json: bool, *, error: str, job_id: str, status: str
) -> None:
    """The line saying why a render stopped, on ``console`` as written (paths are not markup);
    with ``--json`` also the object a script reads on stdout, shaped as ``fail_with``'s."""
    line = f"error: {said}" if error == "DiskFull" else said
    with suppress(OSError):  # after a hangup the terminal may be gone: the stop goes on
        console.print(line, markup=False, highlight=False, soft_wrap=True)
        if as_json:
            typer.echo(
                json.dumps({"error": error, "detail": said, "job": job_id, "status": status})
            )


def refuse_overwrite(ctx: RunContext, board: Storyboard, mode: Mode, output: Path) -> None:
    """Refuse (exit 2, before any spend) to write over an existing ``output``, unless an
    unfinished job of this very render is resumed (it owns the file)."""
    if not output.exists() or _unfinished_job(ctx, fingerprint(board, mode, ctx.providers, output)):
        return
    raise InvalidInputError(
        f"{output} already exists; nothing was rendered",
        [Problem("--output", "pass --force to overwrite it, or choose another -o path")],
    )


def drive(ctx: RunContext, job_id: str, listener: Listener | None) -> None:
    """Run the job to its end: in this process on the embedded engine, or, with
    ``SHOTLINE_ENGINE=celery``, on the workers while following its event rows."""
    from pipeline import events
    from pipeline.engine import EmbeddedEngine

    if ctx.settings.engine == "celery":
        from pipeline.celery_app import CeleryRunner

        CeleryRunner(ctx).submit(job_id)
        follow(ctx, job_id, listener)
        return
    unsubscribe = events.subscribe(listener) if listener else None
    try:
        EmbeddedEngine(ctx).run(job_id)
    finally:
        if unsubscribe:
            unsubscribe()


def follow(ctx: RunContext, job_id: str, listener: Listener | None, every_s: float = 0.5) -> None:
    """Replay the job's event rows to ``listener`` until the job ends or waits for an operator
    (``engine.ended``: ``held``)."""
    from pipeline import events
    from pipeline.engine import ended
    from store.db import session_scope

    seen = 0
    while True:
        with session_scope(ctx.db_url) as session:
            rows = events.rows_after(session, seen, job_id=job_id)
            seen = rows[-1].id if rows else seen
            fresh = [events.as_event(row) for row in rows]
        for event in fresh:
            if listener:
                listener(event)
        if ended(ctx, job_id) is not None:
            return
        time.sleep(every_s)


UNKNOWN = AttemptStatus.SUBMISSION_UNKNOWN


def _say_held(console: Console, held: list[dict[str, Any]]) -> None:
    """The job waits: its provider may or may not have a job for these attempts."""
    console.print(
        "[yellow]The job waits: these creates may or may not have reached their provider, "
        "which offers no way to find out. Check its dashboard, then run[/yellow]"
    )
    for attempt in held:
        console.print(
            f"  shotline resolve {attempt['id']} --provider-job ID | --not-submitted"
            f"   ({attempt['provider']} {attempt['model']}, holds ${attempt['quoted_usd']:.2f})"
        )
    console.print("and run this command again to continue the job.")


def conclude(report: dict[str, Any], console: Console, *, as_json: bool) -> None:
    """Print the job's report (its table, or JSON) and exit as ``exit_for`` says."""
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
    else:
        console.print(report_table(report, console.width))
    exit_for(report, console)


def exit_for(report: dict[str, Any], console: Console) -> None:
    """Return when the job was delivered, else exit: 5 when it waits on ``shotline resolve``
    (saying for which attempts), 3 when over budget, 4 otherwise."""
    held = [a for s in report["shots"] for a in s["attempt_log"] if a["status"] == UNKNOWN]
    if held and report["status"] not in JOB_ENDED:
        _say_held(console, held)
        raise typer.Exit(5)
    if report["status"] != JobStatus.DELIVERED:
        budget = any(
            a.get("error_kind") == "over_budget" for s in report["shots"] for a in s["attempt_log"]
        )
        raise typer.Exit(3 if budget else 4)


def register(app: typer.Typer) -> None:
    @app.command()
    def render(
        storyboard: Annotated[Path, typer.Argument(help="storyboard YAML or JSON")],
        output: Annotated[Path, typer.Option("-o", "--output", help="where to write the MP4")],
        mode: Annotated[
            Mode | None, typer.Option(help="preview or final (default: storyboard)")
        ] = None,
        providers: Providers = "auto",
        scenario: Annotated[Path | None, typer.Option(help="emulator scenario YAML")] = None,
        force: Annotated[
            bool, typer.Option("--force", help="overwrite the output file if it exists")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print a JSON report")] = False,
    ) -> None:
        """Render a storyboard end to end into one stitched MP4."""
        from foundation.storyboard import load_storyboard
        from pipeline.context import RunContext
        from shotline.terminal import terminal

        console = terminal(stderr=as_json)
        try:
            board = load_storyboard(storyboard)
            writable_video(output, "--output")
            refuse_scenario_alone(providers, scenario)
            ctx = RunContext.create(providers)
            check_shared(ctx)
            if not force:
                refuse_overwrite(ctx, board, mode or board.mode, output)
            with ExitStack() as stack:
                if providers == "emulated":
                    _start_emulator(ctx, stack, scenario)
                report = run_render(
                    ctx, board, mode or board.mode, output, quiet=as_json, console=console
                )
        except ShotlineError as exc:
            fail_with(exc, console, as_json)
        conclude(report, console, as_json=as_json)
