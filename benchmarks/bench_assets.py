"""Asset store overhead: one 12-shot job on the embedded engine with the S3 asset store (moto's S3
server in its own process on loopback) against the same job on the local directory store.

    .venv/bin/python benchmarks/bench_assets.py [--runs 5]

The job is bench_pipeline's (12 shots of 2 s at 320x180, emulated providers with a fixed 1 s render
latency, one crossfade and a 1:1 variant so that windows, variants and sidecars are stored too).
Each run alternates local and S3 on fresh data directories; the table gives the median wall time
from ``job.running`` to ``job.delivered`` and the ratio S3 / local (goal <= 1.15x), the best run
of each, and the CPU time each job took (this process, its FFmpeg children and the S3 server),
steadier than wall time when other work shares the machine. Loopback
measures what the store costs shotline (uploads, the cache copy, listings, downloads), not a
network's bandwidth to a real bucket.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from emulators import Scenario, start_emulator
from foundation.settings import Settings
from foundation.storyboard import parse_storyboard
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from store.db import session_scope
from store.models import Event
from tests.s3 import CREDENTIALS, REGION, moto_server, new_bucket

MODEL = "google/veo-3.1-lite"
LOOKS = ["forest", "ocean", "sunset", "snow", "fire", "desert", "city", "neon", "space", "studio"]


def storyboard() -> Any:
    shots: list[dict[str, Any]] = [
        {"id": f"shot{i:02d}", "prompt": f"a {LOOKS[i % len(LOOKS)]} scene number {i}",
         "duration": 2, "model": MODEL}
        for i in range(12)
    ]  # fmt: skip
    shots[6]["transition"] = "crossfade:0.5"
    return parse_storyboard({
        "title": "bench", "mode": "preview",
        "output": {"size": "320x180", "fps": 24, "variants": ["1:1"]},
        "scenes": [{"id": "s", "shots": shots}],
    })  # fmt: skip


def run(work: Path, urls: tuple[dict[str, str], dict[str, str]], store: str | None,
        endpoint: str | None) -> float:  # fmt: skip
    registry = work / "registry.yaml"
    registry.write_text(f"models:\n- id: {MODEL}\n  limits: {{concurrency: 64, rpm: 6000}}\n")
    settings = Settings(
        data_dir=work / f"data-{time.monotonic_ns()}", registry=registry, asset_store=store,
        s3_endpoint_url=endpoint, s3_region=REGION,
        s3_access_key_id=CREDENTIALS["aws_access_key_id"],
        s3_secret_access_key=CREDENTIALS["aws_secret_access_key"],
        io_workers=16, poll_interval_s=0.05,
    )  # fmt: skip
    ctx = RunContext.create("emulated", settings)
    ctx.base_urls, ctx.judge_base_urls = urls
    job_id = create_job(ctx, storyboard(), output=work / "out.mp4")
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"
    with session_scope(ctx.db_url) as session:
        rows = session.scalars(select(Event).where(Event.job_id == job_id))
        times = {e.kind: e.created_at.timestamp() for e in rows if e.shot_key is None}
    return times["job.delivered"] - times["job.running"]


def cpu_seconds() -> float:
    """CPU time of this process (the engine, the emulator) and its finished children (FFmpeg)."""
    me, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    scenario = Scenario.model_validate(
        {"seed": 1, "media": {"max_side": 320},
         "defaults": {"latency": {"dist": "fixed", "seconds": 1.0}}}
    )  # fmt: skip
    walls: dict[str, list[float]] = {"local": [], "s3": []}
    cpus: dict[str, list[float]] = {"local": [], "s3": []}
    with (
        tempfile.TemporaryDirectory() as tmp,
        start_emulator(scenario) as emulator,
        moto_server() as server,
    ):
        bucket = new_bucket(server.endpoint)
        urls = (dict(emulator.base_urls), dict(emulator.judge_base_urls))
        run(Path(tmp), urls, None, None)  # warm-up: imports, the registry, first encodes
        for _ in range(runs):
            for name, store in (("local", None), ("s3", bucket.url)):
                before = cpu_seconds() + server.cpu_seconds()
                walls[name].append(run(Path(tmp), urls, store, server.endpoint))
                cpus[name].append(cpu_seconds() + server.cpu_seconds() - before)
        objects = len(bucket.object_keys()) // runs
    report(walls, cpus, objects)


def report(walls: dict[str, list[float]], cpus: dict[str, list[float]], objects: int) -> None:
    wall = {name: statistics.median(values) for name, values in walls.items()}
    cpu = {name: statistics.median(values) for name, values in cpus.items()}
    best = min(walls["s3"]) / min(walls["local"])
    print(f"load average before: {LOAD}")
    print(
        "| 12 shots x 2 s, 320x180, 1 s provider latency | wall s (median) | CPU s (median) | runs, wall s |"
    )
    print("|---|---:|---:|---|")
    for name, label in (
        ("local", "local directory store"),
        ("s3", f"S3 store (moto on loopback, its CPU included; {objects} objects a job)"),
    ):
        runs = ", ".join(f"{w:.2f}" for w in walls[name])
        print(f"| {label} | {wall[name]:.2f} | {cpu[name]:.2f} | {runs} |")
    print(
        f"| ratio S3 / local | **{wall['s3'] / wall['local']:.2f}x** | {cpu['s3'] / cpu['local']:.2f}x "
        f"| best run / best run {best:.2f}x; goal <= 1.15x (wall) |"
    )
    print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")


LOAD = Path("/proc/loadavg").read_text().split()[:3] if os.path.exists("/proc/loadavg") else "?"

if __name__ == "__main__":
    main()
