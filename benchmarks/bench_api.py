"""API overhead benchmark: a 2-shot 320x180 storyboard on the local renderer, submitted over HTTP
to a live uvicorn server and polled until delivered, against the same job run in-process through
``JobRunner`` (the anchor); plus sequential ``GET /v1/jobs/{id}`` latency.

    .venv/bin/python benchmarks/bench_api.py [--runs N]

Every run uses new prompts, so the accepted-shot cache never short-cuts a render.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
from typing import Any

import httpx
import uvicorn


def board(tag: str) -> dict[str, Any]:
    return {
        "title": f"bench {tag}",
        "output": {"size": "320x180"},
        "scenes": [
            {
                "id": "s",
                "shots": [
                    {"id": "a", "prompt": f"a red kite over a beach {tag}", "duration": 2},
                    {"id": "b", "prompt": f"a dog running in snow {tag}", "duration": 2},
                ],
            }
        ],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def direct(runs: int) -> list[float]:
    from foundation.storyboard import parse_storyboard
    from pipeline.context import RunContext
    from pipeline.planning import create_job
    from pipeline.runner import JobRunner

    ctx = RunContext.create("local")
    runner = JobRunner(ctx)
    times = []
    for index in range(runs):
        start = time.perf_counter()
        job_id = create_job(ctx, parse_storyboard(board(f"direct {index}")), tenant="bench")
        runner.submit(job_id)
        assert runner.wait(job_id) == "delivered"
        times.append(time.perf_counter() - start)
    runner.shutdown()
    return times


def over_http(runs: int) -> tuple[list[float], list[float]]:
    from api import auth
    from api.app import create_app
    from api.config import ApiSettings
    from pipeline.context import RunContext

    ctx = RunContext.create("local")
    key = auth.create_key(ctx.db_url, "bench")
    app = create_app(ctx, settings=ApiSettings(rate_per_minute=60000, rate_burst=10000))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    headers = {"Authorization": f"Bearer {key}"}
    times, reads = [], []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
        for index in range(runs):
            start = time.perf_counter()
            job_id = client.post("/v1/jobs", json={"storyboard": board(f"http {index}")}).json()[
                "id"
            ]
            while client.get(f"/v1/jobs/{job_id}").json()["status"] not in ("delivered", "failed"):
                time.sleep(0.02)
            times.append(time.perf_counter() - start)
        for _ in range(200):
            start = time.perf_counter()
            client.get(f"/v1/jobs/{job_id}")
            reads.append(time.perf_counter() - start)
    server.should_exit = True
    thread.join(timeout=10)
    return times, reads


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        os.environ["SHOTLINE_DATA_DIR"] = data
        anchor = statistics.median(direct(args.runs))
        submitted, reads = over_http(args.runs)
    median = statistics.median(submitted)
    p50 = statistics.median(reads) * 1000
    p95 = sorted(reads)[int(len(reads) * 0.95)] * 1000
    print(f"API benchmark: 2 shots x 2 s, 320x180, local renderer, median of {args.runs} runs\n")
    print("| path | submit -> delivered | vs anchor |")
    print("|---|---|---|")
    print(f"| in-process JobRunner (anchor) | {anchor:.2f} s | 1.00x |")
    print(f"| HTTP: POST /v1/jobs + polling GET | {median:.2f} s | {median / anchor:.2f}x |")
    print(
        f"\nGET /v1/jobs/{{id}} (full job view): p50 {p50:.1f} ms, p95 {p95:.1f} ms, 200 requests"
    )


if __name__ == "__main__":
    main()
