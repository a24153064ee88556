"""Provider jobs in flight in ONE ``shotline serve`` process (embedded engine) against emulated
providers that take ``--latency`` seconds to render.

    .venv/bin/python benchmarks/bench_inflight.py [--shots 1000] [--latency 60] [--per-job 100]
    .venv/bin/python benchmarks/bench_inflight.py --shots 100 --latency 15 --warmup 4   # quick

The emulator runs in this process (its media rendered once and copied, so rendering costs nothing)
and counts every create call and status poll; ``serve`` runs in a process of its own, pointed at it
by ``SHOTLINE_EMULATOR_URL``. First ``--warmup`` shots (one job) run to their finish, so the model
has measured render times; then ``--shots`` shots in jobs of ``--per-job`` are submitted at once
through the API. The run ends once every one of them has been noticed finished, or after
``--max-seconds``; the jobs are not waited for past that (their gating and stitching is not what
is measured).

Prints, for the window in which the shots wait (from the last create call before the first render
finishes, to that finish; from the first create call when submitting takes nearly until then): the serve process's CPU share (% of one core), its resident memory (max)
and the provider requests per second it makes (at the emulator), the most jobs in flight at the
emulator at once; and for every finished provider job how long after its render finished the
pipeline noticed it (its first poll answered "done"), as a fraction of its render time.
Goals: under 25% of one core, under 400 MB, every finish noticed within 10% of its render time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_load import _free_port, _key

import emulators.state
from emulators import Scenario, start_emulator
from emulators.state import Emulator, Job, View

ROOT = Path(__file__).resolve().parents[1]
MODEL = "google/veo-3.1-lite"
TICK_S = os.sysconf("SC_CLK_TCK")
DONE_PHASES = ("succeeded", "failed", "canceled")


@dataclass
class Watch:
    """What the emulator saw: create calls and polls (monotonic times), and per job when its
    render finished and when a poll first answered that it had."""

    creates: list[float] = field(default_factory=list)
    polls: list[float] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)
    noticed: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def finish_at(self, job: Job) -> float | None:
        return None if job.started_at is None else job.started_at + job.latency_s


def instrument(emu: Emulator, watch: Watch, template: Path) -> None:
    """Count create calls and polls; every render is a copy of one clip rendered up front."""
    create, view = emu.create_job, emu.view

    def counted_create(*args: Any, **kwargs: Any) -> Job:
        job = create(*args, **kwargs)
        with watch.lock:
            watch.creates.append(time.monotonic())
            watch.jobs[job.id] = job
        return job

    def counted_view(job: Job) -> View:
        seen = view(job)
        now = time.monotonic()
        with watch.lock:
            watch.polls.append(now)
            if seen.phase in DONE_PHASES:
                watch.noticed.setdefault(job.id, now)
        return seen

    emu.create_job = counted_create  # type: ignore[method-assign]
    emu.view = counted_view  # type: ignore[method-assign]

    def copy_clip(_spec: Any, out: Path, _defects: Any = ()) -> Path:
        shutil.copyfile(template, out)
        return out

    setattr(emulators.state, "render_clip", copy_clip)  # noqa: B010 (the module's import)


@dataclass
class Sample:
    at: float
    cpu_s: float
    rss_mb: float


def sample(pid: int) -> Sample:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK_S  # utime + stime
    rss = next(
        int(line.split()[1]) / 1024
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    return Sample(time.monotonic(), cpu, rss)


def sampler(pid: int, out: list[Sample], stop: threading.Event) -> None:
    while not stop.wait(1.0):
        try:
            out.append(sample(pid))
        except (FileNotFoundError, ProcessLookupError):
            return


def board(tag: str, shots: int) -> dict[str, Any]:
    return {
        "storyboard": {
            "title": f"inflight {tag}",
            "mode": "preview",
            "output": {"size": "160x90", "fps": 24},
            "scenes": [{"id": "s", "shots": [
                {"id": f"s{i:04d}", "prompt": f"a kite over a beach, take {tag}-{i}",
                 "duration": 2, "model": MODEL} for i in range(shots)
            ]}],
        }
    }  # fmt: skip


def submit(http: httpx.Client, tag: str, shots: int, per_job: int) -> list[str]:
    ids = []
    for start in range(0, shots, per_job):
        response = http.post("/v1/jobs", json=board(f"{tag}{start}", min(per_job, shots - start)))
        response.raise_for_status()
        ids.append(response.json()["id"])
    return ids


def wait_noticed(watch: Watch, since: float, count: int, limit_s: float) -> None:
    """Until ``count`` jobs created after ``since`` were noticed finished, or ``limit_s`` passed."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        with watch.lock:
            fresh = [j for j in watch.jobs.values() if j.created_at >= since]
            if len(fresh) >= count and all(j.id in watch.noticed for j in fresh):
                return
        time.sleep(0.5)


def wait_healthy(base: str, server: subprocess.Popen[bytes], data: Path, limit_s: float) -> None:
    """Until ``serve`` answers ``/healthz`` (a loaded machine may take a minute to start it)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    print((data / "serve.log").read_text()[-3000:], file=sys.stderr)
    raise SystemExit(f"serve did not answer within {limit_s:g} s")


def serve(data: Path, port: int, emulator_url: str, registry: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "SHOTLINE_DATA_DIR": str(data),
        "SHOTLINE_REGISTRY": str(registry),
        "SHOTLINE_EMULATOR_URL": emulator_url,
        "SHOTLINE_API_RATE_PER_MINUTE": "1000000",
        "SHOTLINE_API_RATE_BURST": "100000",
    }
    argv = [sys.executable, "-m", "shotline", "serve", "--port", str(port)]
    log = (data / "serve.log").open("wb")
    return subprocess.Popen(
        [*argv, "--providers", "emulated"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
    )


QUIET_MIN_S = 10.0


def window(watch: Watch, since: float) -> tuple[float, float, bool]:
    """(start, end, quiet): from the last create call before the first render finishes to that
    finish; when that leaves under ``QUIET_MIN_S`` (submitting was still going on), from the first
    create call, and ``quiet`` is False."""
    jobs = [j for j in watch.jobs.values() if j.created_at >= since]
    finishes = [f for j in jobs if (f := watch.finish_at(j)) is not None]
    first_finish = min(finishes) if finishes else time.monotonic()
    before = [t for t in watch.creates if since <= t < first_finish]
    if before and first_finish - max(before) >= QUIET_MIN_S:
        return max(before), first_finish, True
    return (min(before) if before else since), first_finish, False


def in_flight_max(watch: Watch, since: float) -> int:
    changes: list[tuple[float, int]] = []
    for job in watch.jobs.values():
        if job.created_at < since:
            continue
        changes.append((job.created_at, 1))
        if job.id in watch.noticed:
            changes.append((watch.noticed[job.id], -1))
    level = peak = 0
    for _, step in sorted(changes):
        level += step
        peak = max(peak, level)
    return peak


@dataclass(frozen=True)
class Waiting:
    span_s: float
    quiet: bool
    cpu_pct: float
    rss_mb: float
    requests: int


def waiting(watch: Watch, samples: list[Sample], since: float) -> Waiting:
    start, end, quiet = window(watch, since)
    inside = [s for s in samples if start <= s.at <= end]
    cpu = float("nan")
    if len(inside) > 1:
        cpu = (inside[-1].cpu_s - inside[0].cpu_s) / (inside[-1].at - inside[0].at) * 100
    rss = max((s.rss_mb for s in inside), default=float("nan"))
    requests = sum(1 for t in [*watch.creates, *watch.polls] if start <= t <= end)
    return Waiting(end - start, quiet, cpu, rss, requests)


def lateness(watch: Watch, since: float, ended: float) -> tuple[list[float], int]:
    """How late each finished job was noticed (fractions of its render time, sorted), and how
    many were not noticed although a tenth of their render time had passed by ``ended``."""
    late, unnoticed = [], 0
    for job in watch.jobs.values():
        finish = watch.finish_at(job)
        if job.created_at < since or finish is None or finish > ended:
            continue
        if job.id in watch.noticed:
            late.append((watch.noticed[job.id] - finish) / max(job.latency_s, 1e-9))
        elif ended - finish > 0.1 * job.latency_s:
            unnoticed += 1
    return sorted(late), unnoticed


def report(args: argparse.Namespace, watch: Watch, samples: list[Sample], since: float,
           ended: float) -> None:  # fmt: skip
    wait, peak = waiting(watch, samples, since), in_flight_max(watch, since)
    late, unnoticed = lateness(watch, since, ended)
    created = sum(1 for j in watch.jobs.values() if j.created_at >= since)
    rate = wait.requests / wait.span_s if wait.span_s > 0 else float("nan")
    print(f"{args.shots} shots in jobs of {args.per_job}, {args.latency:g} s render latency "
          f"(sigma {args.sigma:g}), warm-up {args.warmup} shots; load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"created at the emulator {created}, most in flight at once {peak}")
    kind = "waiting window" if wait.quiet else "window before the first finish (still submitting)"
    print(f"{kind} {wait.span_s:.1f} s: serve CPU {wait.cpu_pct:.1f}% of one core, RSS max "
          f"{wait.rss_mb:.0f} MB, provider requests {rate:.1f}/s ({wait.requests})")  # fmt: skip
    worst = late[-1] if late else float("nan")
    if late:
        q = [late[min(len(late) - 1, int(p * len(late)))] * 100 for p in (0.5, 0.95)]
        print(f"finished provider jobs {len(late) + unnoticed}: noticed late by p50 {q[0]:.1f}%, "
              f"p95 {q[1]:.1f}%, max {worst * 100:.1f}% of their render time; not noticed "
              f"within 10% by the end {unnoticed}")  # fmt: skip
    goals = {
        "CPU < 25% of one core": wait.cpu_pct < 25,
        "RSS < 400 MB": wait.rss_mb < 400,
        "every finish noticed within 10%": bool(late) and unnoticed == 0 and worst <= 0.1,
        f"all {args.shots} shots in flight at once": peak >= args.shots,
    }
    print("goals: " + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in goals.items()))


def registry_file(work: Path) -> Path:
    path = work / "registry.yaml"  # lift the model's limits: the engine, not the quota, is measured
    limits = {"concurrency": 100_000, "rpm": 1_000_000}
    path.write_text(yaml.safe_dump({"models": [{"id": MODEL, "limits": limits}]}))
    return path


def scenario(args: argparse.Namespace) -> Scenario:
    dist = {"dist": "lognormal", "sigma": args.sigma} if args.sigma > 0 else {"dist": "fixed"}
    latency = {**dist, "seconds": args.latency, "queued_fraction": 0.0}
    return Scenario.model_validate(
        {"seed": 1, "media": {"max_side": 160}, "defaults": {"latency": latency}}
    )


def template_clip(work: Path) -> Path:
    from emulators.media import ClipSpec, render_clip

    spec = ClipSpec(
        provider="google",
        model=MODEL,
        prompt="a kite",
        duration_s=2.0,
        width=160,
        height=90,
        fps=24.0,
    )
    return render_clip(spec, work / "template.mp4")


def run(args: argparse.Namespace, work: Path) -> None:
    watch, stop = Watch(), threading.Event()
    samples: list[Sample] = []
    template = template_clip(work)
    with start_emulator(scenario(args)) as emulator:
        instrument(emulator.emulator, watch, template)
        data, port = work / "data", _free_port()
        data.mkdir()
        key = _key(data)
        server = serve(data, port, emulator.base_url, registry_file(work))
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(base, server, data, 180.0)
            threading.Thread(target=sampler, args=(server.pid, samples, stop), daemon=True).start()
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
                if args.warmup:
                    submit(http, "warm", args.warmup, args.warmup)
                    wait_noticed(watch, 0.0, args.warmup, args.latency * 3 + 30)
                    time.sleep(2.0)  # the warm-up's clips are fetched, so their times are stored
                since = time.monotonic()
                submit(http, "run", args.shots, args.per_job)
                wait_noticed(watch, since, args.shots, args.max_seconds)
                ended = time.monotonic()
        finally:
            stop.set()
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)
        report(args, watch, samples, since, ended)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shots", type=int, default=1000)
    parser.add_argument("--per-job", type=int, default=100, help="shots per job (at most 200)")
    parser.add_argument("--latency", type=float, default=60.0, help="render seconds per job")
    parser.add_argument("--sigma", type=float, default=0.0, help="log-normal spread (0: fixed)")
    parser.add_argument("--warmup", type=int, default=8, help="shots run first (0: none)")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="measured run's limit")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shotline-inflight-") as tmp:
        run(args, Path(tmp))


if __name__ == "__main__":
    main()
