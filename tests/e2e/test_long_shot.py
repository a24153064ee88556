"""Issue 18's long shots end to end: `plan` names the split, `render` delivers one take made of
segments that continue from each other, each rendered (none reuses another's clip)."""

from __future__ import annotations

import json

from tests.e2e.long_takes import one_take, plan_then_render, seconds_of

OPEN = {
    "id": "open",
    "prompt": "a lighthouse at dusk",
    "duration": 2,
    "model": "google/veo-3.1-fast",
}


def test_a_take_longer_than_its_model_renders_is_delivered_in_segments(tmp_path, monkeypatch):
    board = one_take(10, "google/veo-3.1-fast", OPEN)
    planned, done, out, data = plan_then_render(tmp_path, monkeypatch, board)
    assert [s["shot_id"] for s in planned["shots"]] == ["open", "take.part1", "take.part2"]
    assert planned["long_shots"][0]["seconds"] == [5.0, 5.0]  # Veo's 8 s + 2 s would not route

    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["status"] == "delivered"
    rows = {row["id"]: row for row in report["shots"]}
    assert list(rows) == ["open", "take.part1", "take.part2"]
    assert all(len(rows[key]["attempt_log"]) >= 1 for key in rows)  # none reused from the cache
    assert list(data.rglob("lastframe-take.part2-*.png"))  # part 2 started from part 1's last frame
    assert abs(seconds_of(out) - 12.0) < 0.1
