"""A small distributed deployment for tests: ``shotline worker`` processes (and optionally the API)
sharing one PostgreSQL database, one Redis broker (queues of their own) and one data directory
(or, given settings of their own per process, e.g. ``SHOTLINE_DATA_DIR``, nothing on disk).

The processes are forked from one fork server (``tests/e2e/forkserver.py``) that every cluster of
a test process shares, preloaded with the stack they run: each is the real command in a session
of its own, without the ~2 s of CPU a fresh interpreter spends importing it (and the server's own
~3 s are paid once, not once per test)."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from sqlalchemy import select

from store.db import session_scope
from store.models import Job, PipelineStep
from tests import web
from tests.e2e.forkserver import Child, ForkServer

ROOT = Path(__file__).parents[2]
_servers: list[ForkServer] = []


def shared_fork_server() -> ForkServer:
    """This process's cluster fork server, started on first use (again if it died) and closed
    when the process exits: it keeps nothing of one child for the next (each brings its
    environment and reads its settings after the fork)."""
    if not _servers or _servers[0].process.poll() is not None:
        if not _servers:
            atexit.register(lambda: _servers[0].close())
        _servers[:] = [ForkServer("cluster")]
    return _servers[0]


def forget_queues(broker_url: str, prefix: str) -> None:
    """Drop a test's queues, kombu's bindings for them and its shared limits' keys (every key
    holding ``prefix``) from the broker, which keeps no expiry on them."""
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


class Cluster:
    def __init__(self, data: Path, db_url: str, broker_url: str, prefix: str, **env: str) -> None:
        self.data = data
        self.broker_url = broker_url
        data.mkdir(parents=True, exist_ok=True)
        self.db_url = db_url
        self.prefix = prefix
        self.env = os.environ | {
            "SHOTLINE_DATA_DIR": str(data),
            "SHOTLINE_ASSET_DIR": str(data / "assets"),
            "SHOTLINE_DATABASE_URL": db_url,
            "SHOTLINE_BROKER_URL": broker_url,
            "SHOTLINE_QUEUE_PREFIX": prefix,
            "SHOTLINE_ENGINE": "celery",
            "SHOTLINE_POLL_INTERVAL_S": "0.2",
            "SHOTLINE_REAP_INTERVAL_S": "1",
            "SHOTLINE_REAP_AFTER_S": "4",
            # a killed worker's concurrency slots free within seconds, not the default minute
            "SHOTLINE_POLL_MAX_INTERVAL_S": "2",
            "SHOTLINE_SLOT_LEASE_MIN_S": "5",
            "SHOTLINE_IO_TIME_LIMIT_S": "30",
            "SHOTLINE_CPU_TIME_LIMIT_S": "90",
            "PYTHONPATH": str(ROOT),
            **env,
        }
        self.processes: dict[str, Child] = {}

    def _spawn(self, name: str, entry: str, *args: str, env: dict[str, str] | None = None) -> Child:
        """``shotline.commands.worker.main()`` or the ``serve`` command with ``args``, as
        ``python -c`` would run it from ``ROOT``; its output appends to ``{name}.log``."""
        process = shared_fork_server().start(
            list(args),
            self.env | (env or {}),
            ROOT,
            self.data / f"{name}.log",
            entry=entry,
            append=True,
            setsid=True,
        )
        self.processes[name] = process
        return process

    def worker(
        self,
        name: str,
        queues: str = "io,cpu",
        concurrency: int = 2,
        beat: bool = False,
        env: dict[str, str] | None = None,
    ) -> Child:
        args = ["--queues", queues, "--concurrency", str(concurrency), "--name", f"{name}@%h"]
        args += [*(["--beat"] if beat else []), "--loglevel", "info"]
        return self._spawn(name, "worker", *args, env=env)

    def api(
        self, port: int, providers: str = "emulated", env: dict[str, str] | None = None
    ) -> Child:
        args = ["--port", str(port), "--providers", providers]
        return self._spawn("api", "serve", *args, env=env)

    def kill(self, name: str) -> None:
        """SIGKILL the worker's whole process group: the main process and its pool children."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_worker(self, name: str) -> None:
        """SIGTERM the worker (a warm shutdown) and wait for it."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill(name)

    def log(self, name: str, tail: int | None = 4000) -> str:
        text = (self.data / f"{name}.log").read_text(errors="replace")
        return text if tail is None else text[-tail:]

    def wait_healthy(self, url: str, timeout: float = 60.0) -> None:
        """Until the API at ``url`` answers ``/healthz`` (its log in the failure)."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if web.get(f"{url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the API did not start:\n{self.log('api')}")

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while "ready." not in self.log(name, tail=None):
            if self.processes[name].poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker {name} did not start:\n{self.log(name)}")
            time.sleep(0.2)

    def statuses(self, job_ids: list[str]) -> dict[str, str]:
        with session_scope(self.db_url) as session:
            rows = session.execute(select(Job.id, Job.status).where(Job.id.in_(job_ids))).all()
        return {job_id: status for job_id, status in rows}

    def wait_jobs(self, job_ids: list[str], timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            statuses = self.statuses(job_ids)
            if all(s in ("delivered", "failed", "cancelled") for s in statuses.values()):
                return statuses
            time.sleep(0.5)
        return self.statuses(job_ids)

    def stuck(self, job_ids: list[str]) -> str:
        """What an unfinished job is waiting on: its steps (job's and shots') and their leases,
        and the log lines of the workers that name it (grep-able, not the reaper's noise)."""
        with session_scope(self.db_url) as session:
            open_ids = [
                job_id for job_id, status in self.statuses(job_ids).items()
                if status not in ("delivered", "failed", "cancelled")
            ]  # fmt: skip
            steps = session.scalars(
                select(PipelineStep).where(PipelineStep.job_id.in_(open_ids))
            ).all()
            rows = [
                f"{s.key} {s.name} ref={s.ref} v{s.version} due={s.due_at} lease={s.lease_until} "
                f"holder={s.holder} reaped={s.reaped}"
                for s in steps
            ]
        now = f"now={time.time():.1f}"
        named = [
            line for name in self.processes for line in self.log(name, tail=None).splitlines()
            if any(job_id in line for job_id in open_ids) or "ERROR" in line or "WARNING" in line
        ]  # fmt: skip
        return "\n".join([now, *rows, *named[-60:]])

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        forget_queues(self.broker_url, self.prefix)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
