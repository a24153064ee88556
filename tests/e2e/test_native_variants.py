"""Issue 21's native variants end to end under ``--providers emulated``: a 2-shot storyboard asks
for 9:16 with shot ``a`` allowed a native render (``render: auto``: a 16:9 -> 9:16 crop keeps 32%
of the picture). Shot ``a`` is rendered again in 9:16 (its own attempt, quote, reservation and
settlement in the ledger) and that render, not a crop of the 16:9 clip, is its segment in the
delivered, verified ``OUT.9x16.mp4``; shot ``b`` is reframed for $0."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
import yaml
from sqlalchemy import select

from store.db import session_scope
from store.models import Attempt, LedgerEntry, Shot
from tests.router.test_cli_plan import app_with, run

BOARD = {
    "title": "native",
    "output": {"size": "320x180", "variants": [{"aspect": "9:16", "render": "auto", "shots": ["a"]}]},
    "scenes": [{"id": "s", "shots": [
        {"id": "a", "prompt": "a harbour at dawn", "duration": 1},
        {"id": "b", "prompt": "a quiet street", "duration": 1},
    ]}],
}  # fmt: skip


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, str]:
    """The report, the main output and the job's database URL."""
    from foundation.settings import get_settings
    from shotline.commands import render

    tmp = tmp_path_factory.mktemp("native-variants")
    path, out = tmp / "board.yaml", tmp / "out" / "film.mp4"
    path.write_text(yaml.safe_dump(BOARD))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOTLINE_DATA_DIR", str(tmp / "data"))
        patch.setenv("SHOTLINE_POLL_INTERVAL_S", "0.05")
        get_settings.cache_clear()
        db_url = get_settings().db_url
        done = run("render", str(path), "-o", str(out), "--providers", "emulated", "--json",
                   app=app_with(render))  # fmt: skip
    get_settings.cache_clear()
    report = json.loads(done.output[done.output.index("{") :])
    assert report["status"] == "delivered", report.get("error")
    return report, out, db_url


def frame(path: Path | str, seconds: float = 0.0) -> np.ndarray:
    with av.open(str(path)) as container:
        for decoded in container.decode(video=0):
            if decoded.time is not None and decoded.time >= seconds - 1e-3:
                return np.asarray(decoded.to_ndarray(format="rgb24"), dtype=np.float64)
    raise AssertionError(f"no frame at {seconds}s in {path}")


def size_of(path: Path | str) -> tuple[int, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for packet in container.demux(stream) if packet.size)
        return stream.codec_context.width, stream.codec_context.height, frames


def error(picture: np.ndarray, other: np.ndarray) -> float:
    """The 99th percentile of the per-pixel mean |diff|: a disc of another size or place shows,
    where a mean lets the gradient both pictures share average it away."""
    return float(np.percentile(np.abs(picture - other).mean(axis=2), 99))


def best_crop_error(picture: np.ndarray, main: np.ndarray) -> float:
    """How far ``picture`` is from the closest same-size window of ``main``."""
    width = picture.shape[1]
    return min(
        error(picture, main[:, x : x + width]) for x in range(0, main.shape[1] - width + 1, 2)
    )


def test_the_9x16_variant_is_delivered_verified_at_its_size(delivered):
    report, out, _ = delivered
    variant = Path(report["files"]["variant_9x16"])
    assert variant == out.with_name("film.9x16.mp4")
    assert report["verification"]["variants"]["9x16"]["passed"]
    assert size_of(variant) == (100, 180, 48)  # the largest 9:16 crop of 320x180, 2 s at 24 fps


def test_shot_a_is_its_9x16_render_not_a_crop_of_its_16x9_clip(delivered):
    report, out, db_url = delivered
    shots = {s["id"]: s for s in report["shots"]}
    native = shots["a"]["variants"]["9x16"]
    assert native["render"] == "native"
    with session_scope(db_url) as session:
        (request,) = session.scalars(
            select(Attempt.request)
            .join(Shot, Shot.id == Attempt.shot_id)
            .where(Shot.job_id == report["job"], Attempt.stage == "native")
        ).all()
    assert request["width"] * 16 == request["height"] * 9  # the provider was asked for 9:16
    clip_w, clip_h, _ = size_of(native["clip"])
    assert clip_w * 16 == clip_h * 9  # and the emulator rendered 9:16
    picture = frame(out.with_name("film.9x16.mp4"))
    rendered = cv2.resize(frame(native["clip"]), (100, 180), interpolation=cv2.INTER_AREA)
    assert error(picture, rendered) < best_crop_error(picture, frame(out)) / 4
    later = frame(out.with_name("film.9x16.mp4"), 1.0)  # shot b: a crop of its 16:9 clip
    assert best_crop_error(later, frame(out, 1.0)) < 6


def test_the_ledger_books_the_native_render_and_nothing_for_the_reframe(delivered):
    report, _, db_url = delivered
    shots = {s["id"]: s for s in report["shots"]}
    rows = {(row.get("stage", "video")): row for row in shots["a"]["attempt_log"]}
    native = rows["native"]
    assert native["status"] == "accepted"
    assert native["settled_usd"] == native["quoted_usd"] > 0
    assert shots["a"]["cost_usd"] == pytest.approx(
        rows["video"]["settled_usd"] + native["settled_usd"]
    )
    reframed = shots["b"]["variants"]["9x16"]  # not in the variant's shots: cropped, $0
    assert (reframed["planned"], reframed["render"], reframed["cost_usd"]) == (
        "reframe",
        "reframe",
        0,
    )
    assert reframed["reason"] == "not in its shots: cropped, no extra render"
    planned = shots["a"]["variants"]["9x16"]
    assert planned["quoted_usd"] == native["quoted_usd"]
    assert planned["reason"].startswith("the crop would keep 31% of the picture")
    assert [r.get("stage") for r in shots["b"]["attempt_log"]] == [None]
    with session_scope(db_url) as session:
        entries = session.execute(
            select(LedgerEntry.kind, LedgerEntry.amount_usd)
            .join(Attempt, Attempt.id == LedgerEntry.attempt_id)
            .where(LedgerEntry.job_id == report["job"], Attempt.stage == "native")
        ).all()
    booked = {kind: amount for kind, amount in entries}
    assert booked["reserve"] == pytest.approx(native["quoted_usd"])
    assert booked["settle"] == pytest.approx(native["settled_usd"])


def test_the_render_table_names_the_native_render(delivered):
    from rich.console import Console

    from shotline.console import report_table

    report, _, _ = delivered
    console = Console(width=400, record=True)
    console.print(report_table(report, 400))
    text = " ".join(console.export_text().split())
    assert "variants: film.9x16.mp4 (rendered natively: a 9x16)" in text


def test_plans_total_counts_the_native_render_as_the_budget_does(tmp_path):
    """``shotline plan``'s total left the native renders out: it printed less than admission
    holds against the budget."""
    from shotline.commands import plan

    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(BOARD))
    shown = run("plan", str(path), "--providers", "emulated", app=app_with(plan)).output
    flat = " ".join(shown.split())  # the line wraps at the console's width
    line = flat[flat.index("total: $") :].split(")")[0]
    parts = dict(
        (name.strip(), float(usd)) for name, usd in re.findall(r"([a-z ]+) \$([0-9.]+)", line)
    )
    assert parts["native variants"] > 0, line
    videos, stages, native = parts["videos"], parts["other stages"], parts["native variants"]
    total = float(line.removeprefix("total: $").split()[0])
    assert total == pytest.approx(videos + stages + native, abs=1e-4)
