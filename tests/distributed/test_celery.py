"""The Celery app and worker command, and real workers on Redis and PostgreSQL."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
import typer
from sqlalchemy import select

from foundation.errors import InvalidInputError
from foundation.settings import Settings, get_settings
from pipeline import flow, tasks
from pipeline.celery_app import CeleryRunner, celery_for, create_celery, queue_name, send
from pipeline.context import RunContext
from pipeline.planning import create_job
from pipeline.steps import Dispatch
from shotline.commands.serve import _celery_runner
from shotline.commands.worker import parse_queues, worker_argv
from store.db import session_scope
from store.models import PipelineStep
from tests.distributed.cluster import Cluster, forget_queues
from tests.pipeline.conftest import shot, tiny_board

STEP_TASKS = tuple(flow.STEP_QUEUE)  # every step of the graph has its task


class FakeApp:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send_task(self, name: str, **options: Any) -> None:
        self.sent.append((name, options))


class TestApp:
    def test_tasks_are_named_late_acked_json_and_time_limited(self):
        settings = Settings(queue_prefix="x.", io_time_limit_s=30, cpu_time_limit_s=300)
        app = create_celery(settings)
        app.loader.import_default_modules()
        assert app.conf.task_serializer == "json"
        assert app.conf.accept_content == ["json"]
        assert app.conf.task_acks_late is True
        assert app.conf.beat_schedule["pipeline.reap"]["options"]["queue"] == "x.io"
        for step in STEP_TASKS:
            task = app.tasks[f"pipeline.{step}"]
            assert task.acks_late is True
            assert task.time_limit == tasks.time_limit(get_settings(), flow.STEP_QUEUE[step])

    def test_provider_io_and_cpu_work_go_to_their_queues(self):
        settings = Settings(queue_prefix="p.")
        app = FakeApp()
        send(app, settings, Dispatch("poll", "7", 3, 2.0))  # type: ignore[arg-type]
        send(app, settings, Dispatch("normalise", "4", 9))  # type: ignore[arg-type]
        assert app.sent == [
            (
                "pipeline.poll",
                {"args": ["7", 3], "queue": "p.io", "countdown": 2.0, "priority": None},
            ),
            (
                "pipeline.normalise",
                {"args": ["4", 9], "queue": "p.cpu", "countdown": None, "priority": 3},
            ),
        ]

    @pytest.mark.services
    def test_a_waiting_normalise_is_delivered_before_an_earlier_gate(self, redis_url):
        """The CPU queue honours ``flow.STEP_PRIORITY`` through Redis: a worker takes the
        accepted shot's normalise before a gate queued earlier, and the stitch before both."""
        settings = Settings(broker_url=redis_url, queue_prefix=f"prio{time.monotonic_ns()}.")
        app = create_celery(settings)
        for step, ref in (("gate", "1"), ("gate", "2"), ("normalise", "3"), ("finish", "4")):
            send(app, settings, Dispatch(step, ref, 1))
        taken = []
        try:
            with app.connection_for_read() as conn:
                queue = conn.SimpleQueue(queue_name(settings, "cpu"), no_ack=True)
                for _ in range(4):
                    message = queue.get(timeout=5)
                    taken.append((message.headers["task"], message.headers["argsrepr"]))
                queue.close()
        finally:
            forget_queues(redis_url, settings.queue_prefix)
        assert taken == [
            ("pipeline.finish", "['4', 1]"),
            ("pipeline.normalise", "['3', 1]"),
            ("pipeline.gate", "['1', 1]"),
            ("pipeline.gate", "['2', 1]"),
        ]

    def test_one_app_per_broker_and_prefix(self):
        one = Settings(queue_prefix="a.")
        assert celery_for(one) is celery_for(Settings(queue_prefix="a."))
        assert celery_for(one) is not celery_for(Settings(queue_prefix="b."))


class TestWorkerCommand:
    def test_cpu_workers_are_recycled_and_io_workers_are_not(self):
        settings = Settings(queue_prefix="q.", cpu_max_tasks_per_child=7)
        cpu = worker_argv(settings, ["cpu"], concurrency=2)
        io = worker_argv(settings, ["io"])
        assert "--queues=q.cpu" in cpu
        assert "--max-tasks-per-child=7" in cpu
        assert "--queues=q.io" in io
        assert f"--concurrency={settings.io_workers}" in io
        assert not any(arg.startswith("--max-tasks-per-child") for arg in io)

    def test_beat_runs_the_reaper_schedule_from_the_data_dir(self, tmp_path):
        argv = worker_argv(Settings(data_dir=tmp_path), ["io", "cpu"], beat=True)
        assert "--beat" in argv
        assert f"--schedule={(tmp_path / 'celerybeat-schedule').resolve()}" in argv

    @pytest.mark.parametrize("text", ["", "io,gpu", "cpu;io"])
    def test_unknown_queues_are_invalid_input(self, text):
        with pytest.raises(InvalidInputError) as caught:
            parse_queues(text)
        assert caught.value.exit_code == 2


def test_a_worker_whose_broker_cannot_be_reached_says_so_and_ends(tmp_path):
    """``serve`` and ``render`` name a broker they cannot reach; ``worker`` looped on Celery's
    "Trying again (7/100)" (distributed walkthrough). It now exits 1 naming the broker."""
    from typer.testing import CliRunner

    from shotline.commands import worker

    app = typer.Typer()
    worker.register(app)
    app.command("noop")(lambda: None)  # a second command keeps ``worker`` a subcommand
    env = {
        "SHOTLINE_DATA_DIR": str(tmp_path / "data"),
        "SHOTLINE_BROKER_URL": "redis://127.0.0.1:9/0",
        "SHOTLINE_ENGINE": "celery",
    }
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(app, ["worker"], env=env)
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 1, done.output
    assert "the broker redis://" in done.output
    assert "127.0.0.1:9/0 (SHOTLINE_BROKER_URL) cannot be reached" in done.output


class TestServe:
    def test_emulated_providers_need_the_shared_emulator(self):
        ctx = RunContext.create("emulated", get_settings())
        with pytest.raises(InvalidInputError) as caught:
            _celery_runner(ctx, "emulated")
        assert caught.value.problems[0].path == "SHOTLINE_EMULATOR_URL"
        ctx.settings.emulator_url = "http://127.0.0.1:8787"
        assert isinstance(_celery_runner(ctx, "emulated"), CeleryRunner)


class TestRunnerEnqueuesAfterCommit:
    def test_submit_writes_the_start_cursor_then_sends_once(self, tmp_path):
        ctx = RunContext.create("local", get_settings())
        app = FakeApp()
        runner = CeleryRunner(ctx, app)  # type: ignore[arg-type]
        job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "o.mp4")
        runner.submit(job_id)
        runner.submit(job_id)  # already enqueued: nothing more is sent
        with session_scope(ctx.db_url) as session:
            cursor = session.get_one(PipelineStep, f"job:{job_id}")
        assert (cursor.name, cursor.version) == ("start", 1)
        assert app.sent == [
            (
                "pipeline.start",
                {"args": [job_id, 1], "queue": "io", "countdown": None, "priority": None},
            )
        ]
        assert runner.is_running(job_id) is False


@pytest.mark.services
@pytest.mark.serial
class TestRealWorkers:
    def test_a_worker_delivers_jobs_from_the_queue(
        self, tmp_path, fresh_postgres_url, redis_url, isolated_queues, monkeypatch
    ):
        monkeypatch.setenv("SHOTLINE_DATABASE_URL", fresh_postgres_url)
        monkeypatch.setenv("SHOTLINE_BROKER_URL", redis_url)
        monkeypatch.setenv("SHOTLINE_DATA_DIR", str(tmp_path / "data"))
        get_settings.cache_clear()
        ctx = RunContext.create("local", get_settings())
        jobs = [
            create_job(ctx, tiny_board(shot(f"a{i}"), shot(f"b{i}")), output=tmp_path / f"{i}.mp4")
            for i in range(2)
        ]
        with Cluster(tmp_path / "data", fresh_postgres_url, redis_url, isolated_queues) as cluster:
            cluster.worker("w1", beat=True)
            runner = CeleryRunner(ctx)
            for job_id in jobs:
                runner.submit(job_id)
            statuses = cluster.wait_jobs(jobs, timeout=90)
            assert set(statuses.values()) == {"delivered"}, cluster.log("w1")
            # its first line names the node as Celery does: "w1@%h" printed the "%h"
            assert f"shotline worker w1@{socket.gethostname()}: queues" in cluster.log("w1", None)
        with session_scope(fresh_postgres_url) as session:
            names = set(session.scalars(select(PipelineStep.name)))
        assert names == {"done"}
        assert all((tmp_path / f"{i}.mp4").stat().st_size > 0 for i in range(2))
