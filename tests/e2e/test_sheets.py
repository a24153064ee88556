"""Issue 18's character sheets end to end under ``--providers emulated``: a character without
reference images gets one reference sheet per job, drawn by a routed image model and billed once
although two shots feature her; both keyframes are conditioned on it (the emulated image model
draws its figure in the references' mean colour, so the keyframes carry the sheet's colour); a
second render after editing her description draws again exactly her sheet and the keyframes and
videos of her shots, and books $0 for the other character's sheet, keyframe and video (reused)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from sqlalchemy import select

from foundation.settings import Settings
from store.db import session_scope
from store.models import Attempt, Event, Shot


def board(mara: str) -> dict[str, object]:
    return {
        "title": "sheets",
        "output": {"size": "160x90", "fps": 24},
        "style": "rain-soaked neon noir",
        "characters": [
            {"id": "mara", "description": mara},
            {"id": "joe", "description": "a man in a green coat"},
        ],
        "scenes": [
            {
                "id": "s",
                "shots": [
                    {"id": "a", "prompt": "Mara steps off the ferry", "duration": 1, "characters": ["mara"]},
                    {"id": "b", "prompt": "Mara under a sign", "duration": 1, "characters": ["mara"]},
                    {"id": "c", "prompt": "Joe on a quay", "duration": 1, "characters": ["joe"]},
                ],
            }
        ],
    }  # fmt: skip


def render(cli, tmp_path: Path, mara: str, name: str) -> dict[str, Any]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(board(mara)))
    out = tmp_path / f"{name}.mp4"
    done = cli("render", str(path), "-o", str(out), "--providers", "emulated", "--json")
    report: dict[str, Any] = json.loads(done.output[done.output.index("{") :])
    assert report["status"] == "delivered", report.get("error")
    return report


def tries(tmp_path: Path, job_id: str, stage: str) -> list[dict[str, Any]]:
    """The job's tries of ``stage``: their shot, request, settled cost, status and asset."""
    with session_scope(Settings(data_dir=tmp_path / "data").db_url) as session:
        rows = session.execute(
            select(
                Shot.key, Attempt.request, Attempt.settled_usd, Attempt.status, Attempt.asset_path
            )
            .join(Attempt, Attempt.shot_id == Shot.id)
            .where(Shot.job_id == job_id, Attempt.stage == stage)
        ).all()
    names = ("shot", "request", "settled", "status", "asset")
    return [dict(zip(names, row, strict=True)) for row in rows]


def consistency_pairs(tmp_path: Path, job_id: str) -> list[dict[str, Any]]:
    with session_scope(Settings(data_dir=tmp_path / "data").db_url) as session:
        data = session.scalars(
            select(Event.data).where(Event.job_id == job_id, Event.kind == "job.consistency")
        ).one()
    return list(data["pairs"])


def sheet_events(tmp_path: Path, job_id: str) -> set[str]:
    """The kinds of the job's events that name the sheet stage."""
    with session_scope(Settings(data_dir=tmp_path / "data").db_url) as session:
        rows = session.execute(select(Event.kind, Event.data).where(Event.job_id == job_id)).all()
    return {kind for kind, data in rows if (data or {}).get("stage") == "sheet"}


def figure(path: str) -> np.ndarray:
    """The colour at the centre of the emulated picture's figure."""
    image = cv2.imread(path)
    assert image is not None, path
    height, width = image.shape[:2]
    return np.asarray(image[height * 3 // 5, width // 2], float)


def test_a_sheet_is_drawn_once_conditions_keyframes_and_is_redrawn_only_when_edited(tmp_path, cli):
    first = render(cli, tmp_path, "a woman in a red raincoat", "first")
    sheets = {s["character"]: s for s in first["sheets"]}
    assert set(sheets) == {"mara", "joe"}
    assert sheets["mara"]["shot"] == "a"
    assert sheets["joe"]["shot"] == "c"
    drawn = tries(tmp_path, first["job"], "sheet")
    mara = [a for a in drawn if a["request"]["character"] == "mara"]
    assert len(mara) == 1
    assert mara[0]["settled"] > 0
    assert mara[0]["status"] == "accepted"
    assert mara[0]["asset"] == sheets["mara"]["asset"]
    sheet = cv2.imread(sheets["mara"]["asset"])
    assert sheet is not None
    assert sheet.shape[0] == sheet.shape[1] <= 256
    keyframes = {a["shot"]: a for a in tries(tmp_path, first["job"], "keyframe")}
    for key in ("a", "b"):  # conditioned on the sheet, as on a given reference image
        assert keyframes[key]["request"]["references"] == [sheets["mara"]["asset"]]
        assert np.abs(figure(keyframes[key]["asset"]) - sheet.reshape(-1, 3).mean(0)).max() < 6
    assert keyframes["c"]["request"]["references"] == [sheets["joe"]["asset"]]

    assert {"attempt.reserved", "attempt.gated"} <= sheet_events(tmp_path, first["job"])
    # the consistency check compares each shot with its characters' references (the sheets)
    pairs = consistency_pairs(tmp_path, first["job"])
    assert {(p["a"], p["b"]) for p in pairs if p["kind"] == "reference"} == {
        ("a", "mara"), ("b", "mara"), ("c", "joe"),
    }  # fmt: skip
    # drawn from keyframes conditioned on the sheets, the shots carry their characters' colours
    assert not [p for p in pairs if p["kind"] == "reference" and p["flagged"]], pairs

    edited = render(cli, tmp_path, "a woman in a blue raincoat", "edited")
    sheets = {s["character"]: s for s in edited["sheets"]}
    assert not sheets["mara"]["reused"]
    assert sheets["mara"]["cost_usd"] > 0
    # the second render books $0 for the unchanged character's sheet (and saves its quote)
    assert sheets["joe"]["reused"]
    assert sheets["joe"]["cost_usd"] == 0.0
    assert sheets["joe"]["saved_usd"] > 0
    again = [
        a for a in tries(tmp_path, edited["job"], "sheet") if a["request"]["character"] == "joe"
    ]
    assert [a["settled"] for a in again] == [0.0]
    stages = {s["id"]: s["stages"]["keyframe"] for s in edited["shots"]}
    assert {k for k, s in stages.items() if not s["reused"]} == {"a", "b"}
    assert sorted(edited["cached_shots"]) == ["c"]  # c's video is the cached clip
    assert {s["id"] for s in edited["shots"] if s["cost_usd"] > 0} == {"a", "b"}
    reused = edited["reused"]  # what the report names as reused, and the money saved
    assert (reused["sheets"], reused["keyframes"], reused["videos"]) == (["joe"], ["c"], ["c"])
    assert reused["saved_usd"] > sheets["joe"]["saved_usd"] > 0
