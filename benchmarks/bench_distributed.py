"""Distributed engine benchmark: Celery workers on Redis, state in PostgreSQL, emulated providers.

    .venv/bin/python benchmarks/bench_distributed.py

Needs PostgreSQL (127.0.0.1:5432, trust auth, database ``test``) and Redis (127.0.0.1:6379).

(a) Throughput: 4 jobs of 6 shots against zero-latency providers, run by 1, 2 and 4 worker
    processes (each ``shotline worker --queues io,cpu --concurrency 1``); shots per minute from
    the first enqueue to the last delivery, and the scaling ratio against one worker.
(b) The embedded engine's 12-shot critical-path ratio, on the recommended layout (one io worker
    with 8 processes, one cpu worker with 2): wall time over the critical path (the slowest shot
    from job start to its verdict, plus the stitch), goal <= 1.1x as for the embedded engine.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml
from bench_pipeline import MODEL, critical_path, emulator_process, storyboard
from sqlalchemy import create_engine, text

from foundation.settings import Settings
from pipeline.celery_app import CeleryRunner
from pipeline.context import RunContext
from pipeline.planning import create_job
from store.db import get_engine
from tests.distributed.cluster import Cluster

POSTGRES = os.environ.get(
    "SHOTLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS = os.environ.get("SHOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
JOBS, SHOTS = 4, 6


@contextmanager
def fresh_database() -> Iterator[str]:
    name = f"shotline_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def deployment(work: Path, emulator: str, tag: str) -> Iterator[tuple[Cluster, RunContext]]:
    """A fresh database and queue prefix; the caller starts the workers it wants."""
    registry = work / "registry.yaml"  # lift the model's limits: the engine, not the quota
    registry.write_text(
        yaml.safe_dump({"models": [{"id": MODEL, "limits": {"concurrency": 64, "rpm": 6000}}]})
    )
    prefix = f"bench-{tag}-{uuid.uuid4().hex[:6]}."
    with fresh_database() as url:
        data = work / f"data-{tag}"
        env = {"SHOTLINE_EMULATOR_URL": emulator, "SHOTLINE_REGISTRY": str(registry)}
        settings = Settings(
            data_dir=data,
            database_url=url,
            broker_url=REDIS,
            queue_prefix=prefix,
            registry=registry,
            engine="celery",
        )
        ctx = RunContext.create("emulated", settings)
        with Cluster(data, url, REDIS, prefix, SHOTLINE_POLL_INTERVAL_S="0.05", **env) as cluster:
            yield cluster, ctx


def submit_and_wait(cluster: Cluster, ctx: RunContext, boards: int, shots: int) -> list[str]:
    ids = [
        create_job(ctx, storyboard(shots), output=ctx.settings.data_dir / f"out-{n}.mp4")
        for n in range(boards)
    ]
    runner = CeleryRunner(ctx)
    for job_id in ids:
        runner.submit(job_id)
    statuses = cluster.wait_jobs(ids, timeout=900)
    assert set(statuses.values()) == {"delivered"}, statuses
    return ids


def throughput(work: Path, emulator: str, workers: int) -> float:
    """Shots per minute with ``workers`` single-process workers."""
    with deployment(work, emulator, f"t{workers}") as (cluster, ctx):
        for n in range(workers):
            cluster.worker(f"w{n}", concurrency=1, beat=n == 0)
        for n in range(workers):
            cluster.wait_ready(f"w{n}")
        started = time.monotonic()
        submit_and_wait(cluster, ctx, JOBS, SHOTS)
        elapsed = time.monotonic() - started
    return JOBS * SHOTS / elapsed * 60


def throughput_bench(work: Path) -> None:
    rates: dict[int, float] = {}
    with emulator_process(work, {"seed": 1, "media": {"max_side": 160}}) as root:
        for workers in (1, 2, 4):
            rates[workers] = throughput(work, root, workers)
    print(f"| {JOBS} jobs x {SHOTS} shots, zero-latency providers | shots/min | vs 1 worker |")
    print("|---|---:|---:|")
    for workers, rate in rates.items():
        print(f"| {workers} worker process(es) | {rate:.1f} | {rate / rates[1]:.2f}x |")


def critical_path_bench(work: Path) -> None:
    scenario = {
        "seed": 1,
        "media": {"max_side": 320},
        "defaults": {"latency": {"dist": "fixed", "seconds": 2.0}},
    }
    with (
        emulator_process(work, scenario) as root,
        deployment(work, root, "cp") as (cluster, ctx),
    ):
        cluster.worker("io", queues="io", concurrency=8, beat=True)
        cluster.worker("cpu", queues="cpu", concurrency=2)
        cluster.wait_ready("io")
        cluster.wait_ready("cpu")
        (job_id,) = submit_and_wait(cluster, ctx, 1, 12)
        wall, critical = critical_path(ctx, job_id)
    print()
    print("| 12 shots, 2 s provider latency, io x8 + cpu x2 workers | seconds | ratio |")
    print("|---|---:|---:|")
    print(f"| critical path (slowest shot to its verdict + stitch) | {critical:.2f} | 1.00 |")
    print(
        f"| wall time, job start to delivery | {wall:.2f} | "
        f"{wall / critical:.2f}x the critical path (goal <= 1.1x) |"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if "--critical-path-only" not in sys.argv:
            throughput_bench(Path(tmp))
        critical_path_bench(Path(tmp))
    print(f"\n{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
