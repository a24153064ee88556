"""Issue 18's long shots end to end: `plan` names the split, `render` delivers one take made of
segments that continue from each other, each rendered (none reuses another's clip)."""

from __future__ import annotations

import json

import av
import yaml

from tests.router.test_cli_plan import app_with, run

BOARD = {
    "title": "long take",
    "mode": "final",
    "output": {"size": "160x90"},
    "scenes": [
        {
            "id": "s",
            "shots": [
                {"id": "open", "prompt": "a lighthouse at dusk", "duration": 2,
                 "model": "google/veo-3.1-fast"},
                {"id": "take", "prompt": "a kite over a long beach in one take", "duration": 10,
                 "model": "google/veo-3.1-fast"},
            ],
        }
    ],
}  # fmt: skip


def test_a_take_longer_than_its_model_renders_is_delivered_in_segments(tmp_path, monkeypatch):
    from shotline.commands import render

    data = tmp_path / "data"
    monkeypatch.setenv("SHOTLINE_DATA_DIR", str(data))
    board = tmp_path / "long.yaml"
    board.write_text(yaml.safe_dump(BOARD))
    app = app_with(render)
    flags = ["--providers", "emulated", "--json"]
    planned = json.loads(run("plan", str(board), *flags, app=app).stdout)
    assert [s["shot_id"] for s in planned["shots"]] == ["open", "take.part1", "take.part2"]
    assert planned["long_shots"][0]["seconds"] == [5.0, 5.0]  # Veo's 8 s + 2 s would not route

    out = tmp_path / "take.mp4"
    done = run("render", str(board), "-o", str(out), *flags, app=app)
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["status"] == "delivered"
    rows = {row["id"]: row for row in report["shots"]}
    assert list(rows) == ["open", "take.part1", "take.part2"]
    assert all(len(rows[key]["attempt_log"]) >= 1 for key in rows)  # none reused from the cache
    assert list(data.rglob("lastframe-take.part2.png"))  # part 2 started from part 1's last frame
    with av.open(str(out)) as container:
        seconds = float(container.duration or 0) / av.time_base
    assert abs(seconds - 12.0) < 0.1
