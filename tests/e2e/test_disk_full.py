"""A render whose disk fills stops at once, names the full disk, fails no shot and keeps what it paid
for; once space is freed the same command resumes it to a delivered file.

Before, an accepted (paid) clip whose segment FFmpeg could not write was failed (``normalise:
ffmpeg failed (exit status 228)``), and the job then waited with no end, every step retried
against the full disk (SQLite's ``database or disk is full`` included), saying nothing.

The data directory is a small tmpfs this test mounts (as root, which the suite's machines are;
elsewhere it is skipped), sized so that the first write to fail is a segment FFmpeg writes, or the database itself."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from store.models import Attempt, Job, Shot

BOARD = """\
title: disk full
output: {size: 320x180, fps: 24}
scenes:
  - id: s
    shots:
      - {id: a, prompt: "a lighthouse at dusk", duration: 2, audio: ambient}
      - {id: b, prompt: "a red tram in rain", duration: 2, audio: ambient, transition: crossfade:0.5}
      - {id: c, prompt: "a field of sunflowers", duration: 2, audio: ambient}
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (``_size`` changes it), or a skip where this process may not mount one."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = _size(mount, "2M")
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def _size(mount: Path, size: str, *, remount: bool = False) -> subprocess.CompletedProcess[str]:
    options = f"remount,size={size}" if remount else f"size={size}"
    argv = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def _render(tmp_path: Path, data: Path, out: Path) -> subprocess.CompletedProcess[str]:
    board, scenario = tmp_path / "board.yaml", tmp_path / "scenario.yaml"
    board.write_text(BOARD, encoding="utf-8")
    scenario.write_text("media: {max_side: 160}\n", encoding="utf-8")
    args = [sys.executable, "-m", "shotline", "render", str(board), "-o", str(out),
            "--providers", "emulated", "--scenario", str(scenario), "--json"]  # fmt: skip
    env = {**os.environ, "SHOTLINE_DATA_DIR": str(data)}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=180)


def _resume(tmp_path: Path, data: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """The same render again. A stop that came while a create was being recorded (the database
    full at that moment) leaves it unknown, and the render exits 5 asking for ``shotline
    resolve``: the emulator that took it lived in the stopped process, so it is resolved as never
    submitted, and the render runs again (seen once in a loaded run at 600 KB)."""
    resumed = _render(tmp_path, data, out)
    unknown = re.findall(r"shotline resolve (\d+) --provider-job", resumed.stdout + resumed.stderr)
    if resumed.returncode != 5 or not unknown:
        return resumed
    env = {**os.environ, "SHOTLINE_DATA_DIR": str(data)}
    for attempt in unknown:
        args = [sys.executable, "-m", "shotline", "resolve", attempt, "--not-submitted"]
        subprocess.run(args, env=env, check=True, capture_output=True, timeout=60)
    return _render(tmp_path, data, out)


def _shots(data: Path) -> dict[str, tuple[str, int]]:
    engine = create_engine(f"sqlite:///{data / 'shotline.db'}")
    with Session(engine) as session:
        shots = {
            shot.key: (shot.status, len(session.scalars(
                select(Attempt).where(Attempt.shot_id == shot.id)).all()))
            for shot in session.scalars(select(Shot))
        }  # fmt: skip
        (status,) = session.scalars(select(Job.status)).all()
    engine.dispose()
    return shots | {"job": (status, 0)}


MET = ("FFmpeg could not write its output (", "the database could not be written")
"""What the first write to find no space can be: here, at 2 MB a segment FFmpeg writes, at 600 KB
the database (seen so in every run; the shots run side by side, so either may come first)."""


@pytest.mark.parametrize("size", ["2M", "600k"])
def test_a_full_disk_stops_the_render_and_the_same_command_resumes_it(
    small_disk: Path, tmp_path: Path, size: str
) -> None:
    assert _size(small_disk, size, remount=True).returncode == 0
    data, out = small_disk / "data", tmp_path / "out.mp4"
    stopped = _render(tmp_path, data, out)
    said = " ".join((stopped.stdout + stopped.stderr).split())
    assert stopped.returncode == 1, said[-2000:]
    assert any(f"error: no space left on device: {met}" in said for met in MET), said[-2000:]
    assert f"shotline writes under {data}" in said
    assert "is unfinished and keeps what it paid for; free space, then run the same command" in said
    reported = json.loads(stopped.stdout)  # --json: the stop as an object on stdout
    assert (reported["error"], reported["status"]) == ("DiskFull", "unfinished"), reported
    assert reported["detail"].startswith("no space left on device: "), reported
    before = _shots(data)
    assert before.pop("job")[0] == "running"
    assert all(status != "failed" for status, _ in before.values()), before
    accepted = {key for key, (status, _) in before.items() if status in ("accepted", "normalised")}

    assert _size(small_disk, "200M", remount=True).returncode == 0
    resumed = _resume(tmp_path, data, out)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    after = _shots(data)
    assert after.pop("job")[0] == "delivered"
    assert {status for status, _ in after.values()} == {"normalised"}
    for key in accepted:
        assert after[key][1] == before[key][1], (
            f"{key} was accepted before the stop: not paid again"
        )
    with av.open(str(out)) as container:
        frames = sum(1 for _ in container.decode(container.streams.video[0]))
    assert frames == 6 * 24 - 12, "three 2 s shots, one 0.5 s crossfade"
