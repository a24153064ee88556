"""``shotline jobs`` against rendered jobs, and what ``render`` and ``commit`` print first: the job
id, the refusal to overwrite a file, the versioned name of a second final. At 80 columns, which is
also what piped output gets."""

from __future__ import annotations

import json
import re
import sys
from contextlib import ExitStack
from pathlib import Path

import av
import pytest
import typer
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from foundation.modes import Mode
from foundation.settings import get_settings
from foundation.storyboard import Storyboard, parse_storyboard
from pipeline import attempts
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from shotline.commands import commit, jobs, render
from shotline.emulated import use_emulator
from store.db import session_scope
from store.models import Attempt, Job, Shot

BOARD = {
    "title": "jobs cli",
    "output": {"size": "160x90"},
    "scenes": [
        {
            "id": "s",
            "shots": [
                {"id": "k0", "prompt": "a lighthouse at dusk", "duration": 1},
                {"id": "k1", "prompt": "a red tram in rain", "duration": 1},
            ],
        }
    ],
}


def board() -> Storyboard:
    return parse_storyboard(BOARD)


def cli(*args: str, env: dict[str, str] | None = None):
    app = typer.Typer()
    for module in (jobs, render, commit):
        module.register(app)
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "80", **(env or {})})


def lines_fit(text: str, width: int = 80) -> bool:
    """Every table line fits (file paths are printed whole, to be copied)."""
    rows = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    return bool(rows) and all(len(line) <= width for line in rows)


@pytest.fixture
def ctx() -> RunContext:
    context = RunContext.create("local", get_settings())
    context.settings.poll_interval_s = 0.01
    return context


@pytest.fixture
def delivered(ctx: RunContext, tmp_path: Path) -> str:
    job_id = create_job(ctx, board(), output=tmp_path / "out.mp4")
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"
    return job_id


class TestList:
    def test_lists_the_job_with_its_progress_and_cost(self, delivered):
        done = cli("jobs", "list")
        assert done.exit_code == 0, done.output
        assert lines_fit(done.stdout)
        row = next(line for line in done.stdout.splitlines() if delivered[:8] in line)
        assert re.search(r"delivered .* 2/2 .* \$0\.00 .* \d+s ago", row), row
        data = json.loads(cli("jobs", "list", "--json").stdout)
        assert [(j["id"], j["shots_done"], j["shots"]) for j in data] == [(delivered, 2, 2)]

    def test_filters(self, delivered, ctx):
        planned = create_job(ctx, board())

        def ids(*flags: str) -> list[str]:
            done = cli("jobs", "list", "--json", *flags)
            assert done.exit_code == 0, done.output
            return [j["id"] for j in json.loads(done.stdout)]

        assert ids() == [planned, delivered]  # newest first
        assert ids("--status", "planned") == [planned]
        assert ids("--limit", "1") == [planned]
        assert ids("--tenant", "someone-else") == []
        assert ids("--since", "1h") == [planned, delivered]
        assert ids("--since", "2999-01-01") == []
        assert "no jobs match" in cli("jobs", "list", "--status", "failed").stdout

    def test_no_jobs_says_where_it_looked(self):
        """A new folder has its own data folder: "no jobs yet" did not say which."""
        from foundation.settings import get_settings

        settings = get_settings()
        where = "SHOTLINE_DATABASE_URL" if settings.database_url else settings.data_dir.resolve()
        assert cli("jobs").stdout == f"no jobs yet in {where}\n"  # a long path is not wrapped

    def test_bad_filters_exit_2_naming_the_option(self):
        since = cli("jobs", "list", "--since", "yesterday")
        assert since.exit_code == 2
        assert "--since" in since.output
        assert "3d" in since.output
        status = cli("jobs", "list", "--status", "done")
        assert status.exit_code == 2
        assert "delivered" in status.output


class TestShow:
    def test_shots_money_and_files_by_short_id(self, delivered, tmp_path):
        done = cli("jobs", "show", delivered[:6])
        assert done.exit_code == 0, done.output
        assert lines_fit(done.stdout)
        assert done.stdout.splitlines()[0].startswith(f"job {delivered}")
        for text in (
            "k0",
            "k1",
            "local/animatic",
            "normalised",
            "$0.00 spent ($0.00 settled by providers)",
        ):
            assert text in done.stdout
        assert f"video: {tmp_path / 'out.mp4'}" in done.stdout
        assert f"poster: {tmp_path / 'out.poster.jpg'}" in done.stdout
        data = json.loads(cli("jobs", "show", delivered, "--json").stdout)
        assert data["outputs"]["video"] == str(tmp_path / "out.mp4")
        assert [s["id"] for s in data["shots"]] == ["k0", "k1"]
        assert all(Path(s["clip"]).is_file() for s in data["shots"])

    def test_an_unfinished_job_no_process_runs_says_how_to_finish_it(self, ctx, delivered):
        """A render killed with ``kill -9`` left its job ``running`` for good, and nothing said
        that no process ran it; one a process drives is not flagged."""
        from pipeline import driver

        job_id = create_job(ctx, board())  # created, never run: its process died
        with session_scope(ctx.db_url) as session:
            session.get_one(Job, job_id).status = "running"
        shown = cli("jobs", "show", job_id)
        assert shown.exit_code == 0, shown.output
        said = " ".join(shown.stdout.split())
        assert "no process on this machine runs it" in said
        assert f"shotline jobs resume {job_id}" in said
        held = driver.claim(ctx.settings, job_id)
        try:
            assert "no process" not in " ".join(cli("jobs", "show", job_id).stdout.split())
        finally:
            held.release()
        assert "no process" not in cli("jobs", "show", delivered).stdout
        with session_scope(ctx.db_url) as session:  # held: the engine let it go on purpose
            shot = session.scalars(select(Shot).where(Shot.job_id == job_id)).first()
            assert shot is not None
            session.add(
                Attempt(shot_id=shot.id, number=1, model_id="runway/gen4.5", provider="runway",
                        status="submission_unknown")
            )  # fmt: skip
        said = " ".join(cli("jobs", "show", job_id).stdout.split())
        assert "it waits for `shotline resolve`" in said
        assert f"shotline unknowns --job {job_id}" in said
        assert "no process" not in said

    def test_unknown_and_ambiguous_ids(self, ctx):
        with session_scope(ctx.db_url) as session:
            for last in "12":
                session.add(Job(id="abc" + last * 29, title="t", mode="preview", storyboard={}))
        missing = cli("jobs", "show", "zzzz")
        assert missing.exit_code == 1
        assert "no job zzzz" in missing.output
        both = cli("jobs", "show", "abc")
        assert both.exit_code == 2
        assert "abc is the start of more than one job id" in both.output
        assert "abc" + "1" * 29 in both.output


class TestCancel:
    def test_cancels_an_unfinished_job_once(self, ctx):
        job_id = create_job(ctx, board())
        done = cli("jobs", "cancel", job_id[:8])
        assert done.exit_code == 0, done.output
        assert f"cancelled job {job_id} (was planned)" in done.stdout
        assert "2 shot(s) cancelled" in done.stdout
        with session_scope(ctx.db_url) as session:
            assert session.get_one(Job, job_id).status == "cancelled"
        again = cli("jobs", "cancel", job_id)
        assert again.exit_code == 0
        assert "already cancelled" in again.stdout

    def test_the_summary_counts_only_the_attempts_the_cancel_closed(self):
        """An engine still running the job may accept an attempt between the two reads: that
        attempt was not closed by the cancel."""

        def view(statuses: list[str], reserved: float) -> dict[str, object]:
            log = [{"id": n, "status": status} for n, status in enumerate(statuses)]
            return {"id": "j", "status": "running", "costs": {"reserved_usd": reserved},
                    "shots": [{"status": "rendering", "attempt_log": log}]}  # fmt: skip

        before = view(["gating", "submitted"], 0.4)
        after = view(["accepted", "cancelled"], 0.0)
        text = jobs._cancel_summary(before, after)
        assert "1 open attempt(s) closed" in text

    def test_an_ended_job_is_a_conflict(self, delivered, ctx):
        done = cli("jobs", "cancel", delivered, "--json")
        assert done.exit_code == 1
        body = json.loads(done.stdout)
        assert body["error"] == "ConflictError"
        assert "already ended (delivered)" in body["detail"]
        with session_scope(ctx.db_url) as session:
            assert session.get_one(Job, delivered).status == "delivered"
            assert set(session.scalars(select(Attempt.status))) == {"accepted"}


class TestResume:
    def test_an_unfinished_job_is_run_to_its_end_on_its_own_providers(self, ctx, tmp_path):
        out = tmp_path / "resumed.mp4"
        job_id = create_job(ctx, board(), output=out)  # created, never run: a process died
        done = cli("jobs", "resume", job_id[:8])
        assert done.exit_code == 0, done.output
        assert done.stdout.splitlines()[0] == f"job {job_id} (resuming it on local providers)"
        assert "delivered" in done.stdout
        with av.open(str(out)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        assert frames == 48, "two 1 s shots at 24 fps"
        with session_scope(ctx.db_url) as session:
            assert session.get_one(Job, job_id).status == "delivered"

    def test_an_emulated_job_is_resumed_against_an_emulator(self, tmp_path):
        emulated = RunContext.create("emulated", get_settings())
        job_id = create_job(emulated, board(), mode=Mode.FINAL, output=tmp_path / "final.mp4")
        done = cli("jobs", "resume", job_id, "--json")
        assert done.exit_code == 0, done.output
        report = json.loads(done.stdout)
        assert (report["status"], report["providers"], report["emulated"]) == (
            "delivered", "emulated", True)  # fmt: skip
        models = {a["model"] for s in report["shots"] for a in s["attempt_log"]}
        assert models
        assert not any(m.startswith("local/") for m in models), models
        assert (tmp_path / "final.mp4").is_file()

    def test_a_job_whose_emulator_stopped_renders_its_lost_shots_again(self, tmp_path):
        """The first process's in-process emulator stopped with it: the resumed job polls provider
        jobs the new emulator never made (404). They are lost jobs, not bad input: each shot is
        rendered again on its model and the job delivered."""
        emulated = RunContext.create("emulated", get_settings())
        job_id = create_job(emulated, board(), output=tmp_path / "draft.mp4")
        with ExitStack() as first_process:
            use_emulator(emulated, first_process, None)
            with session_scope(emulated.db_url) as session:
                shots = list(session.scalars(select(Shot.id).where(Shot.job_id == job_id)))
            for shot_pk in shots:
                attempt_id, _ = attempts.begin(emulated, shot_pk)
                assert attempt_id is not None
                assert attempts.submit(emulated, attempt_id) is not None
        done = cli("jobs", "resume", job_id, "--json")
        assert done.exit_code == 0, done.output
        report = json.loads(done.stdout)
        assert report["status"] == "delivered"
        for row in report["shots"]:
            log = [(a["status"], a["error_kind"], a["model"]) for a in row["attempt_log"]]
            assert [entry[:2] for entry in log] == [("failed", "job_lost"), ("accepted", None)]
            assert log[0][2] == log[1][2]
        assert (tmp_path / "draft.mp4").is_file()

    def test_an_ended_job_is_refused_and_left_alone(self, delivered, ctx):
        done = cli("jobs", "resume", delivered)
        assert done.exit_code == 1
        assert f"job {delivered} is delivered: there is nothing to resume" in done.output
        missing = cli("jobs", "resume", "zzzz", "--json")
        assert missing.exit_code == 1
        assert json.loads(missing.stdout)["error"] == "NotFoundError"

    def test_a_stopped_commit_names_the_command_that_resumes_its_final(self):
        assert "`shotline jobs resume f1` resumes it" in commit.resume_final("f1")


class TestOpen:
    def test_prints_the_path_and_opens_only_with_a_display(self, delivered, tmp_path, monkeypatch):
        launched: list[str] = []

        def launch(url: str, **_: object) -> int:
            launched.append(url)
            return 0

        monkeypatch.setattr(typer, "launch", launch)
        monkeypatch.setattr(sys, "platform", "linux")
        monkeypatch.delenv("DISPLAY", raising=False)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        headless = cli("jobs", "open", delivered)
        assert headless.exit_code == 0, headless.output
        assert headless.stdout.strip() == str(tmp_path / "out.mp4")
        assert launched == []
        shown = cli("jobs", "open", delivered, env={"DISPLAY": ":0"})
        assert shown.exit_code == 0, shown.output
        assert launched == [str(tmp_path / "out.mp4")]
        cli("jobs", "open", delivered, "--print", env={"DISPLAY": ":0"})
        assert len(launched) == 1

    def test_a_job_without_video_says_why(self, ctx):
        job_id = create_job(ctx, board())
        done = cli("jobs", "open", job_id)
        assert done.exit_code == 1
        assert "is planned: it has no video to open" in done.output


class TestRenderAndCommit:
    def test_job_id_first_overwrite_refused_and_versioned_finals(self, tmp_path):
        path = tmp_path / "board.yaml"
        path.write_text(yaml.safe_dump(BOARD | {"mode": "preview"}))
        out = tmp_path / "cut.mp4"
        out.write_bytes(b"an earlier cut")
        args = ("render", str(path), "-o", str(out), "--providers", "local")

        refused = cli(*args)
        assert refused.exit_code == 2
        assert f"{out} already exists" in refused.output
        assert "--force" in refused.output
        assert "another -o path" in refused.output
        assert out.read_bytes() == b"an earlier cut"
        assert json.loads(cli("jobs", "list", "--json").stdout) == []  # nothing planned

        done = cli(*args, "--force")
        assert done.exit_code == 0, done.output
        first = done.stdout.splitlines()[0]
        assert re.fullmatch(r"job [0-9a-f]{32}", first), first
        preview = first.split()[1]
        assert lines_fit(done.stdout)
        assert out.read_bytes() != b"an earlier cut"

        finals = []
        for _ in range(2):
            committed = cli("commit", preview[:8], "--shots", "k1", "--providers", "local")
            assert committed.exit_code == 0, committed.output
            head = committed.stdout.splitlines()[0]
            assert re.match(r"job [0-9a-f]{32} \(final render of 1 shot\(s\) of preview ", head)
            assert "rendering" in committed.stdout  # the live progress of the final render
            finals.append(head.split()[1])
        outputs = [json.loads(cli("jobs", "show", f, "--json").stdout) for f in finals]
        assert [o["outputs"]["video"] for o in outputs] == [
            str(tmp_path / "cut.final.mp4"),
            str(tmp_path / "cut.final-2.mp4"),
        ]
        assert (tmp_path / "cut.final.mp4").is_file()


def test_a_render_into_the_output_of_an_unfinished_job_of_another_board_is_refused(
    ctx: RunContext, tmp_path: Path
):
    """A render killed, its storyboard edited and rendered again to the same -o: the first job,
    resumed later by ``serve``, wrote its old cut over the new one (and its shots in flight were
    paid twice). The new render is refused before any spend, naming that job."""
    out = tmp_path / "cut.mp4"
    earlier = create_job(ctx, board(), output=out)  # unfinished: planned, never run
    path = tmp_path / "board.yaml"
    edited = BOARD | {"title": "jobs cli, edited"}
    path.write_text(yaml.safe_dump(edited))
    refused = cli("render", str(path), "-o", str(out), "--providers", "local")
    assert refused.exit_code == 2, refused.output
    assert f"job {earlier}, unfinished, renders into {out}" in refused.output
    assert f"shotline jobs cancel {earlier}" in refused.output
    assert not out.exists()
    assert [j["id"] for j in json.loads(cli("jobs", "list", "--json").stdout)] == [earlier]
    assert cli("jobs", "cancel", earlier).exit_code == 0
    done = cli("render", str(path), "-o", str(out), "--providers", "local")
    assert done.exit_code == 0, done.output
    assert out.is_file()


def test_the_list_marks_emulated_cost():
    from shotline.commands.jobs import _list_rows

    base = {
        "id": "0123456789abcdef",
        "title": "t",
        "tenant": "local",
        "status": "delivered",
        "stage": "delivered",
        "shots_done": 1,
        "shots": 1,
        "cost_usd": 2.16,
        "created_at": "2026-11-20T12:00:00+00:00",
    }
    real, emulated = _list_rows([base | {"emulated": False}, base | {"emulated": True}], wide=False)
    assert (real[6], emulated[6]) == ("$2.16", "$2.16*")
