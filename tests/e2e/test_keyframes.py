"""Issue 18's keyframes end to end under ``--providers emulated``: each shot featuring a character
gets a keyframe drawn by an image model, its video request carries the keyframe as its first frame
(the emulated clip starts from it, so the delivered shot's first frame is the keyframe's picture),
and after editing one character's description a second render draws again exactly the keyframe of
the shot featuring that character, reusing the other keyframe and its video for nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import yaml
from sqlalchemy import select

from foundation.settings import Settings
from store.db import session_scope
from store.models import Attempt, Shot

FIRST_S = 1.0


def board(mara: str) -> dict[str, object]:
    return {
        "title": "keyframed",
        "output": {"size": "160x90", "fps": 24},
        "characters": [
            {"id": "mara", "description": mara},
            {"id": "joe", "description": "a man in a green coat"},
        ],
        "scenes": [
            {
                "id": "s",
                "shots": [
                    {"id": "a", "prompt": "Joe on a quay", "duration": FIRST_S, "characters": ["joe"]},
                    {"id": "b", "prompt": "Mara under a sign", "duration": 1, "characters": ["mara"]},
                ],
            }
        ],
    }  # fmt: skip


def render(cli, tmp_path: Path, mara: str, name: str) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(board(mara)))
    out = tmp_path / f"{name}.mp4"
    done = cli("render", str(path), "-o", str(out), "--providers", "emulated", "--json")
    return out, json.loads(done.output[done.output.index("{") :])


def picture(path: str) -> np.ndarray:
    image = cv2.imread(path)
    assert image is not None, path
    return np.asarray(image)


def corner(image: np.ndarray) -> np.ndarray:
    """The mean colour of the bottom-right corner."""
    height, width = image.shape[:2]
    return np.asarray(image[int(height * 0.85) :, int(width * 0.65) :].mean(axis=(0, 1)))


def frame_at(path: Path, seconds: float) -> np.ndarray:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= seconds - 1e-3:
                return np.asarray(frame.to_ndarray(format="bgr24"))
    raise AssertionError(f"no frame at {seconds}s")


def video_requests(tmp_path: Path, job_id: str) -> dict[str, dict[str, Any]]:
    with session_scope(Settings(data_dir=tmp_path / "data").db_url) as session:
        rows = session.execute(
            select(Shot.key, Attempt.request)
            .join(Attempt, Attempt.shot_id == Shot.id)
            .where(Shot.job_id == job_id, Attempt.stage == "video")
        ).all()
    return {key: request for key, request in rows}


def test_keyframes_are_drawn_animated_and_redrawn_only_for_the_edited_character(tmp_path, cli):
    out, report = render(cli, tmp_path, "a woman in a red raincoat", "first")
    assert report["status"] == "delivered", report.get("error")
    stages = {s["id"]: s["stages"]["keyframe"] for s in report["shots"]}
    assert all(s["status"] == "accepted" and s["cost_usd"] > 0 for s in stages.values())
    # each character has no reference images: its sheet is drawn first (tests/e2e/test_sheets.py)
    history = [h for s in report["shots"] for h in s["history"]]
    assert all(h.startswith(("sheet ", "keyframe ")) for h in history), history
    requests = video_requests(tmp_path, report["job"])
    keyframe_b = picture(stages["b"]["asset"])
    assert picture(requests["b"]["reference_image"]).tobytes() == keyframe_b.tobytes()
    # each delivered shot starts from its own keyframe: the frame's bottom-right corner (clear
    # of the captions the emulated clip draws over a 160x90 frame) has its keyframe's colour
    keyframe_a = picture(stages["a"]["asset"])
    first_a, first_b = corner(frame_at(out, 0.0)), corner(frame_at(out, FIRST_S))
    assert np.abs(corner(keyframe_a) - corner(keyframe_b)).max() > 25  # two different pictures
    assert np.abs(first_a - corner(keyframe_a)).max() < 10
    assert np.abs(first_b - corner(keyframe_b)).max() < 10

    _, again = render(cli, tmp_path, "a woman in a blue raincoat", "second")
    assert again["status"] == "delivered", again.get("error")
    redrawn = {s["id"]: s["stages"]["keyframe"] for s in again["shots"]}
    assert (redrawn["a"]["reused"], redrawn["a"]["cost_usd"]) == (True, 0.0)
    assert redrawn["b"]["reused"] is False
    assert redrawn["b"]["cost_usd"] > 0
    costs = {s["id"]: s["cost_usd"] for s in again["shots"]}
    assert costs["a"] == 0.0  # shot a's video is the cached clip too
    assert costs["b"] > 0
