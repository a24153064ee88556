"""Issue 18's long shots with the provider's own extend operation: an 11 s take, longer than
Veo's 8 s, is delivered as a 4 s render and a 7 s extension of it on Vertex (emulated), the
extension's first frame continuing the render's last, each part booked once."""

from __future__ import annotations

import json

import av
import numpy as np

from tests.e2e.long_takes import frames_around, one_take, plan_then_render, seconds_of


def test_a_take_longer_than_veo_is_rendered_then_extended(tmp_path, monkeypatch):
    board = one_take(11, "google/veo-3.1-fast")
    planned, done, out, data = plan_then_render(tmp_path, monkeypatch, board)
    (split,) = planned["long_shots"]
    assert [(p["shot_id"], p["operation"], p["seconds"]) for p in split["parts"]] == [
        ("take.part1", "render", 4.0),  # 8 + 7 would overshoot
        ("take.part2", "extend", 7.0),
    ]
    quotes = {s["shot_id"]: s["candidates"][0]["quote_usd"] for s in planned["shots"]}
    assert [p["quote_usd"] for p in split["parts"]] == [quotes["take.part1"], quotes["take.part2"]]
    assert quotes["take.part2"] > 0  # the extension is quoted like any part

    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["status"] == "delivered"
    rows = {row["id"]: row for row in report["shots"]}
    assert list(rows) == ["take.part1", "take.part2"]
    assert [len(rows[k]["attempt_log"]) for k in rows] == [1, 1]  # each part paid once
    assert abs(seconds_of(out) - 11.0) < 0.1
    before, after = frames_around(str(out), 4.0)
    assert np.abs(before - after).max() < 12  # the extension starts from the render's last frame
    (tail,) = data.rglob("*.tail.mp4")  # what Vertex returned (4 s sent + 7 s) cut to its tail
    with av.open(str(tail)) as container:
        assert abs(float(container.duration or 0) / av.time_base - 7.0) < 0.1
    assert rows["take.part2"]["verdict"] == "accept"  # not a gate repair of the combined clip
    costs = [rows[k]["cost_usd"] for k in rows]
    assert all(c > 0 for c in costs)
    assert abs(sum(costs) - report["spent_usd"]) < 1e-6  # the ledger booked each part once
