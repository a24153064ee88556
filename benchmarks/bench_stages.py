"""Shots as chains of models (issue 18), on the embedded engine against emulated providers.

    .venv/bin/python benchmarks/bench_stages.py [--latency 2] [--runs 1]

A 6-shot storyboard with two characters (descriptions, voices), a style, four spoken lines, a
generated music bed (``music.prompt``: the job's music stage, run beside the shots) and captions,
at 320x180: each voiced shot runs its tts stage, then its video stage, gate and normalise. Prints
(a) wall time over the critical path (the slowest shot from job start to its verdict, plus the
    stitch; the same definition as ``bench_pipeline.py``), goal <= 1.1x;
(b) the stages rendered again after one character's description is edited and the storyboard is
    rendered again in the same tenant: expected exactly the video stages of the shots that feature
    that character (a description is part of their prompts), none of the tts stages (a line's
    speech depends on its text, voice and model, not on the description) and not the music bed;
(c) the per-stage cost table of the first render (emulated prices, from the ledger's records).
Each character (no reference images) gets one reference sheet, and each shot a keyframe
conditioned on its characters' sheets; after the edit exactly that character's sheet is drawn again.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import context, critical_path

from emulators import Scenario, start_emulator
from foundation.storyboard import parse_storyboard
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from pipeline.report import job_report

CHARACTERS = [
    {"id": "mara", "description": "woman in her 30s, short silver hair, red raincoat",
     "voice": "calm, low"},
    {"id": "jonah", "description": "wiry dock worker in his 50s, grey beard, yellow oilskin",
     "voice": "gruff, warm"},
]  # fmt: skip
SHOTS = [  # (id, characters, speaker, line)
    ("arrival", ["mara"], None, None),
    ("greeting", ["jonah"], "jonah", "You came back."),
    ("answer", ["mara", "jonah"], "mara", "We leave at dawn."),
    ("crates", ["jonah"], None, None),
    ("doubt", ["jonah"], "jonah", "Nobody leaves this harbour."),
    ("resolve", ["mara"], "mara", "Then I will be the first."),
]


def board(mara_description: str) -> dict[str, Any]:
    characters = copy.deepcopy(CHARACTERS)
    characters[0]["description"] = mara_description
    shots = []
    for key, featured, speaker, line in SHOTS:
        shot: dict[str, Any] = {
            "id": key, "prompt": f"{key} on the night dock", "duration": 3,
            "characters": featured, "audio": "dialogue" if line else "ambient",
            "model": "google/veo-3.1-lite",
        }  # fmt: skip
        if line:
            shot |= {"dialogue": line, "speaker": speaker}
        shots.append(shot)
    return {
        "title": "bench stages", "mode": "preview",
        "output": {"size": "320x180", "fps": 24},
        "characters": characters,
        "style": "rain-soaked neon noir",
        "music": {"prompt": "slow synth pulse", "gain_db": -18},
        "captions": {"burn_in": False},
        "scenes": [{"id": "dock", "shots": shots}],
    }  # fmt: skip


def render(ctx: Any, storyboard: dict[str, Any], out: Path) -> tuple[str, dict[str, Any]]:
    job_id = create_job(ctx, parse_storyboard(storyboard), output=out)
    status = EmbeddedEngine(ctx).run(job_id)
    assert status == "delivered", (status, job_report(ctx.db_url, job_id).get("error"))
    return job_id, job_report(ctx.db_url, job_id)


def rerendered(report: dict[str, Any], stage: str = "tts") -> tuple[list[str], list[str]]:
    """(video stages rendered again, ``stage`` stages (tts, keyframe) run again) of a second
    render."""
    cached = set(report["cached_shots"])
    video = [s["id"] for s in report["shots"] if s["id"] not in cached]
    again = [
        s["id"]
        for s in report["shots"]
        if s["stages"].get(stage) and not s["stages"][stage]["reused"]
    ]
    return video, again


def stage_costs(report: dict[str, Any]) -> dict[tuple[str, str], list[float]]:
    """(stage, model) -> [tries, cost] from the report's attempt log and stage rows."""
    table: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for shot in report["shots"]:
        before = 0.0  # the stages before the video (tts, keyframe)
        for name, stage in shot["stages"].items():
            row = table[(name, stage["model"])]
            row[0] += stage["tries"]
            row[1] += float(stage["cost_usd"])
            before += float(stage["cost_usd"])
        video_cost = float(shot["cost_usd"]) - before
        row = table[("video", shot["model"])]
        row[0] += shot["attempts"]
        row[1] += video_cost
    if report.get("music"):  # the job's one music stage
        bed = report["music"]
        table[("music", bed["model"])] = [bed["tries"], float(bed["cost_usd"])]
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    scenario = Scenario.model_validate({
        "seed": 1, "media": {"max_side": 320},
        "defaults": {"latency": {"dist": "fixed", "seconds": args.latency}},
    })  # fmt: skip
    edited = "woman in her 30s, long black hair, green raincoat"
    expected = sorted(key for key, featured, _, _ in SHOTS if "mara" in featured)
    with tempfile.TemporaryDirectory() as tmp, start_emulator(scenario) as emulator:
        work = Path(tmp)
        urls = (emulator.base_urls, emulator.judge_base_urls)
        for run in range(args.runs):
            ctx = context(work, urls, io_workers=16)
            started = time.monotonic()
            job_id, first = render(ctx, board(CHARACTERS[0]["description"]), work / f"a{run}.mp4")
            wall, critical = critical_path(ctx, job_id)
            _, second = render(ctx, board(edited), work / f"b{run}.mp4")
            video, tts = rerendered(second)
            drawn = rerendered(second, "keyframe")[1]
            sheets = sorted(s["character"] for s in second["sheets"] if not s["reused"])
            reused = second["reused"]
            print(f"run {run + 1}: 6 shots, {args.latency:g} s provider latency, "
                  f"{time.monotonic() - started:.1f} s for both renders")  # fmt: skip
            print(f"  (a) wall {wall:.2f} s / critical path {critical:.2f} s = "
                  f"{wall / critical:.2f}x (goal <= 1.1x)")  # fmt: skip
            music = second["music"]["reused"]
            exact = (sorted(video), sorted(drawn), tts, sheets, music) == (
                expected, expected, [], ["mara"], True,
            )  # fmt: skip
            verdict = "exactly the dependent ones" if exact else "NOT"
            print(f"  (b) after editing mara's description: video stages again {sorted(video)}, "
                  f"keyframes again {sorted(drawn)}, sheets again {sheets}, tts stages again "
                  f"{sorted(tts)}, music bed {'reused' if music else 'AGAIN'}; expected video and "
                  f"keyframes {expected}, sheets ['mara'], tts [], the bed reused: {verdict}")  # fmt: skip
            print(f"      reused: {len(reused['videos'])} video stages, {len(reused['sheets'])} "
                  f"sheets, {len(reused['keyframes'])} keyframes, {len(reused['tts'])} tts lines, "
                  f"${float(reused['saved_usd']):.4f} saved (emulated prices)")  # fmt: skip
        print("\n  (c) per-stage cost of the first render (emulated prices):")
        print("| stage | model | tries | cost $ |")
        print("|---|---|---:|---:|")
        for (stage, model), (tries, cost) in sorted(stage_costs(first).items()):
            print(f"| {stage} | {model} | {tries:.0f} | {cost:.4f} |")
    print(f"\n2 CPUs, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
