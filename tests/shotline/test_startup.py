"""Start-up: importing the CLI, ``--help``, ``-h``, ``--version`` and every ``COMMAND --help`` load
typer and the command modules only; a command imports its stack when it runs, and ``check`` only
what checking needs. Each probe runs in a fresh interpreter (this one has imported everything);
``benchmarks/bench_startup.py`` measures the time this saves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from ledger.aggregates import GROUPS
from media.runner import run_ffmpeg
from shotline.cli import app
from shotline.commands import costs

ROOT = Path(__file__).parents[2]
# What help and version never need: the server, queue, database, media and validation stacks, and
# typer's rich help (rich, Markdown, Pygments).
HEAVY = (
    "fastapi", "starlette", "uvicorn", "celery", "kombu", "sqlalchemy", "alembic", "cv2", "av",
    "numpy", "httpx", "pydantic", "pydantic_settings", "yaml", "rich", "markdown_it", "pygments",
)  # fmt: skip
SERVER_STACK = ("fastapi", "starlette", "uvicorn", "celery", "kombu", "sqlalchemy", "alembic")

# Runs each argv of argv[1] through the CLI in this one process and prints, per argv, its exit
# code, output and the HEAVY packages it loaded.
PROBE = """
import contextlib, io, json, sys
heavy = json.loads(sys.argv[2])
import shotline.cli
runs = [{"argv": ["import shotline.cli"], "loaded": sorted(set(heavy) & set(sys.modules))}]
for argv in json.loads(sys.argv[1]):
    before = set(sys.modules)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            shotline.cli.app(argv, prog_name="shotline")
            code = 0
        except SystemExit as exit:
            code = exit.code
    new = set(sys.modules) - before
    runs.append({"argv": argv, "code": code, "out": out.getvalue(), "loaded": sorted(new & set(heavy))})
print(json.dumps(runs))
"""


def probe(argvs: list[list[str]], heavy: tuple[str, ...] = HEAVY) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argvs), json.dumps(heavy)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"COLUMNS": "100"},
    )
    assert done.returncode == 0, done.stderr
    runs: list[dict[str, Any]] = json.loads(done.stdout)
    return runs


def help_argvs() -> list[list[str]]:
    """``--help``, ``-h`` and ``--version``, then ``-h`` of every command and sub-command."""
    argvs = [["--help"], ["-h"], ["--version"]]
    for name, command in get_command(app).commands.items():  # type: ignore[attr-defined]
        argvs.append([name, "-h"])
        argvs += [[name, sub, "-h"] for sub in getattr(command, "commands", {})]
    return argvs


def test_help_version_and_every_command_help_load_no_stack() -> None:
    argvs = help_argvs()
    assert ["check", "-h"] in argvs
    assert ["budget", "show", "-h"] in argvs
    runs = probe(argvs)
    loaded = {" ".join(run["argv"]): run["loaded"] for run in runs if run["loaded"]}
    assert not loaded, (
        f"these start-up paths import heavy packages: {loaded}; import them inside the command "
        "function that uses them (TYPE_CHECKING for annotations)"
    )
    by_argv = {" ".join(run["argv"]): run for run in runs[1:]}
    assert all(run["code"] == 0 for run in by_argv.values()), by_argv
    assert by_argv.pop("--version")["out"] == f"shotline {version('shotline')}\n"
    for argv, run in by_argv.items():
        command = argv.removesuffix("--help").removesuffix("-h").strip()
        assert run["out"].startswith(f"Usage: shotline {command}".rstrip() + " "), run
    assert "-h, --help" in by_argv["--help"]["out"]
    assert "--version" in by_argv["--help"]["out"]


def test_check_loads_no_server_database_or_queue_stack(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=24:duration=1",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-shortest",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(clip)]
    )  # fmt: skip
    (run,) = probe([["check", str(clip), "--json"]], SERVER_STACK)[1:]
    assert run["code"] == 0, run
    assert json.loads(str(run["out"]))["action"] == "accept"
    assert run["loaded"] == [], f"`shotline check` imported {run['loaded']}"


def test_version_and_short_help_in_process() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--version"])
    assert (result.exit_code, result.output) == (0, f"shotline {version('shotline')}\n")
    short, long = runner.invoke(app, ["costs", "-h"]), runner.invoke(app, ["costs", "--help"])
    assert short.exit_code == long.exit_code == 0
    assert short.output == long.output
    assert "--by" in short.output


def test_help_skips_the_ffmpeg_check_that_a_run_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from foundation.settings import get_settings
    from media.ffmpeg import ffmpeg_binary

    monkeypatch.setenv("SHOTLINE_FFMPEG", str(tmp_path / "no-such-ffmpeg"))
    get_settings.cache_clear()
    ffmpeg_binary.cache_clear()
    try:
        helped = CliRunner().invoke(app, ["check", "--help"])
        ran = CliRunner().invoke(app, ["check", str(tmp_path / "clip.mp4")])
    finally:
        ffmpeg_binary.cache_clear()
    assert helped.exit_code == 0, helped.output
    assert helped.output.startswith("Usage: ")
    assert ran.exit_code == 2, ran.output
    assert "is not an executable file" in ran.output


def test_costs_spells_out_the_ledger_groups() -> None:
    assert costs.GROUPS == GROUPS
