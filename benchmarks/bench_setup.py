"""Set-up time of ``make demo`` on a fresh clone: the locked uv set-up against the pip set-up it
replaced (the anchor: ``python -m venv``, ``pip install --upgrade pip``, ``pip install -e .``),
side by side in one run, with cold caches (a new machine) and with warm ones (a second clone).

    .venv/bin/python benchmarks/bench_setup.py [--runs N]

The uv arm is ``make setup`` exactly as ``make demo`` runs it, including installing uv itself into
``.tools/`` from the package index (uv is taken off PATH). Both arms reach the package index.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIP_SETUP = (
    "{python} -m venv .venv && .venv/bin/python -m pip install --quiet --upgrade pip"
    " && .venv/bin/python -m pip install --quiet -e ."
)


def _clone(into: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(into)], check=True)
    return into


def _timed(command: str, cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"`{command}` failed in {cwd}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return elapsed


def _env(cache: Path) -> dict[str, str]:
    """No uv on PATH (the Makefile installs it) and caches in ``cache`` only."""
    path = [p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "uv").exists()]
    return os.environ | {
        "PATH": os.pathsep.join(path),
        "PIP_CACHE_DIR": str(cache / "pip"),
        "UV_CACHE_DIR": str(cache / "uv"),
    }


def one_round(work: Path, python: str) -> dict[str, tuple[float, float]]:
    """``{arm: (cold s, warm s)}``: each arm twice on new clones, the second with its cache."""
    results: dict[str, tuple[float, float]] = {}
    arms = {
        "pip (anchor)": PIP_SETUP.format(python=python),
        "uv, locked": f"make setup PYTHON={python}",
    }
    for name, command in arms.items():
        cache = Path(tempfile.mkdtemp(dir=work))
        times = []
        for label in ("cold", "warm"):
            clone = _clone(work / f"{name.split()[0]}-{label}-{cache.name}")
            times.append(_timed(command, clone, _env(cache)))
            shutil.rmtree(clone)
        shutil.rmtree(cache)
        results[name] = (times[0], times[1])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--python", default=shutil.which("python3") or sys.executable)
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="shotline-setup-") as tmp:
        for _ in range(args.runs):
            rounds.append(one_round(Path(tmp), args.python))
    load = os.getloadavg()
    print(f"set-up of a fresh clone, median of {args.runs} (load average {load[0]:.1f})")
    print(f"{'arm':<14} {'cold cache s':>13} {'warm cache s':>13}")
    medians = {}
    for arm in rounds[0]:
        cold = statistics.median(r[arm][0] for r in rounds)
        warm = statistics.median(r[arm][1] for r in rounds)
        medians[arm] = (cold, warm)
        print(f"{arm:<14} {cold:>13.1f} {warm:>13.1f}")
    pip, uv = medians["pip (anchor)"], medians["uv, locked"]
    print(f"uv is {pip[0] / uv[0]:.1f}x faster cold, {pip[1] / uv[1]:.1f}x warm (goal >= 2x)")


if __name__ == "__main__":
    main()
