"""CLI start-up: wall time of ``shotline --version``, ``shotline --help`` and ``shotline check --help``,
each run in a fresh process, against ``python -c pass`` (the interpreter's own start, the anchor).
Goal: ``--help`` and ``--version`` under 0.3 s (median).

    .venv/bin/python benchmarks/bench_startup.py [--runs N] [--compare "COMMAND"] [--clip CLIP]

Runs are interleaved (one of each command per round) so that a change of machine load hits every
row alike; CPU is the user + system time of the process, which load inflates less than wall time.
Python may cache bytecode (``PYTHONDONTWRITEBYTECODE`` is dropped, as on a user's machine: the
warm-up run writes the caches), else every run would compile every module it imports.
``--compare`` adds the same rows for another command line, e.g. the previous commit exported to
/tmp/before: ``--compare "env PYTHONPATH=/tmp/before .venv/bin/python -P -m shotline"``.
``--clip`` adds ``shotline check CLIP`` (exit 1, a verdict other than accept or repair, counts as
a run): start-up is part of what a user waits for.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL_S = 0.3
GOAL_ROWS = ("--version", "--help")
ARGVS = (("--version",), ("--help",), ("check", "--help"))
# The same --help in typer's rich format (panels; it imports Markdown and Pygments), which the CLI
# gave up for click's plain one: the row shows what that choice saves.
RICH_HELP = (
    "import shotline.cli as cli; cli.app.rich_markup_mode = 'rich'; "
    "cli.app(['--help'], prog_name='shotline')"
)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"COLUMNS": "80"}


def _shotline() -> list[str]:
    script = Path(sys.executable).parent / "shotline"
    return [str(script)] if script.exists() else [sys.executable, "-m", "shotline"]


def _timed(argv: list[str]) -> tuple[float, float, int]:
    """Wall and CPU seconds and the exit code of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def _p90(values: list[float]) -> float:
    return (
        statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]
    )


def _ok(argv: list[str], code: int) -> bool:
    return code == 0 or (code == 1 and "check" in argv and "--help" not in argv)


def measure(
    commands: dict[str, list[str]], runs: int
) -> dict[str, tuple[list[float], list[float]]]:
    """``{label: (wall times, cpu times)}`` over ``runs`` interleaved rounds."""
    for label, argv in list(commands.items()):  # warm the file cache and the bytecode once
        if not _ok(argv, code := _timed(argv)[2]):
            print(f"`{label}` exits {code}: not timed")
            del commands[label]
    results: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in commands}
    for _ in range(runs):
        for label, argv in commands.items():
            wall, cpu, code = _timed(argv)
            if not _ok(argv, code):
                raise SystemExit(f"`{label}` exited {code}")
            results[label][0].append(wall)
            results[label][1].append(cpu)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10, help="runs per command (default 10)")
    parser.add_argument("--compare", help="another shotline command line to time too")
    parser.add_argument("--clip", type=Path, help="also time `shotline check CLIP`")
    args = parser.parse_args()
    argvs = [*ARGVS, ("check", str(args.clip))] if args.clip else list(ARGVS)
    commands = {"python -c pass": [sys.executable, "-c", "pass"]}
    commands |= {f"shotline {' '.join(a)}": [*_shotline(), *a] for a in argvs}
    commands["shotline --help, typer's rich format"] = [sys.executable, "-c", RICH_HELP]
    if args.compare:
        other = shlex.split(args.compare)
        commands |= {f"{args.compare} {' '.join(a)}": [*other, *a] for a in argvs}
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    results = measure(commands, args.runs)
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    anchor = statistics.median(results["python -c pass"][0])

    print(f"{args.runs} runs each; load average {' '.join(load_before)} -> {' '.join(load_after)}")
    print("| command | median s | p90 s | CPU median s | over python s | x python |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, (walls, cpus) in results.items():
        median = statistics.median(walls)
        print(
            f"| `{label}` | {median:.3f} | {_p90(walls):.3f} | {statistics.median(cpus):.3f} "
            f"| {median - anchor:.3f} | {median / anchor:.1f}x |"
        )
    for row in GOAL_ROWS:
        median = statistics.median(results[f"shotline {row}"][0])
        verdict = "met" if median < GOAL_S else "NOT met"
        print(f"goal `shotline {row}` < {GOAL_S} s: {verdict} ({median:.3f} s median)")


if __name__ == "__main__":
    main()
