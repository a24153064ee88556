"""What the long-shot end-to-end tests share: a one-take storyboard, `plan` then `render` of it
under emulated providers in a data directory of its own, and measures of the delivered file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import yaml

from tests.router.test_cli_plan import app_with, run


def one_take(seconds: float, model: str, *before: dict[str, Any]) -> dict[str, Any]:
    """A final storyboard at 160x90: the ``before`` shots, then one ``seconds`` s take."""
    take = {"id": "take", "prompt": "a kite over a long beach in one take", "duration": seconds,
            "model": model}  # fmt: skip
    return {
        "title": "extended take",
        "mode": "final",
        "output": {"size": "160x90"},
        "scenes": [{"id": "s", "shots": [*before, take]}],
    }


def plan_then_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, board: dict[str, Any]
) -> tuple[dict[str, Any], Any, Path, Path]:
    """``plan --json`` then ``render --json`` of ``board`` (emulated): the plan, the render's CLI
    result, the output file and the data directory."""
    from shotline.commands import render

    data = tmp_path / "data"
    monkeypatch.setenv("SHOTLINE_DATA_DIR", str(data))
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(board))
    app = app_with(render)
    flags = ["--providers", "emulated", "--json"]
    planned = json.loads(run("plan", str(path), *flags, app=app).stdout)
    out = tmp_path / "take.mp4"
    return planned, run("render", str(path), "-o", str(out), *flags, app=app), out, data


def seconds_of(path: Path) -> float:
    with av.open(str(path)) as container:
        return float(container.duration or 0) / av.time_base


def corner(frame: av.VideoFrame) -> np.ndarray:
    """The right end of the frame's last row: the emulated clip's progress bar, which fills as
    the clip plays and which its moving disc never reaches, so a clip that starts from the
    previous one's last frame starts with it full."""
    pixels: np.ndarray = frame.to_ndarray(format="bgr24")[-1:, -40:].reshape(-1, 3)
    return np.asarray(pixels.mean(axis=0))


def frames_around(path: str, seconds: float, fps: float = 24.0) -> tuple[np.ndarray, np.ndarray]:
    """The corners of the last frame before ``seconds`` and the first at or after it."""
    cut = round(seconds * fps)
    with av.open(path) as container:
        frames = [corner(f) for i, f in enumerate(container.decode(video=0)) if cut - 1 <= i <= cut]
    return frames[0], frames[1]
