"""Issue 18's long shots with Luma ray-3.2's own forward extension: a 15 s take, longer than
ray-3.2's 10 s, is delivered as a 10 s render and a 5 s extension of that generation by its id
on the Agents API (emulated); Luma answers the extension alone, so nothing is cut at fetch, and
the extension's first frame continues the render's last."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.e2e.long_takes import frames_around, one_take, plan_then_render, seconds_of


@pytest.mark.slow
@pytest.mark.provider_resolution  # the gate checks a final render at ray-3.2's 540p
def test_a_take_longer_than_ray_is_rendered_then_extended_by_generation_id(tmp_path, monkeypatch):
    board = one_take(15, "luma/ray-3.2")
    planned, done, out, data = plan_then_render(tmp_path, monkeypatch, board)
    (split,) = planned["long_shots"]
    assert [(p["shot_id"], p["operation"], p["seconds"]) for p in split["parts"]] == [
        ("take.part1", "render", 10.0),
        ("take.part2", "extend", 5.0),
    ]

    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["status"] == "delivered"
    rows = {row["id"]: row for row in report["shots"]}
    assert [len(rows[k]["attempt_log"]) for k in rows] == [1, 1]  # each part paid once
    assert abs(seconds_of(out) - 15.0) < 0.1
    before, after = frames_around(str(out), 10.0)
    assert np.abs(before - after).max() < 12  # the extension starts from the render's last frame
    assert not list(data.rglob("*.tail.mp4"))  # the 5 s block alone: no tail cut
    assert rows["take.part2"]["verdict"] == "accept"
    costs = [rows[k]["cost_usd"] for k in rows]
    assert all(c > 0 for c in costs)
    assert abs(sum(costs) - report["spent_usd"]) < 1e-6
