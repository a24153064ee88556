"""How well the stitcher predicts a programme's loudness before mixing it, on random programmes.

    .venv/bin/python benchmarks/bench_loudness_estimate.py [--plans 60] [--seed 7] [--workdir DIR]

The copy path (``stitching.audio.render``) is taken when the estimate is within ``ON_TARGET_LU`` of
the target; when the file then misses the target, the whole programme is rendered again with a
full mix. Each random programme (2-5 shots of tones, bursts, speech-like gating, room tone and
silence at random levels and lengths, joined by cuts, crossfades and fades through black) is
normalised as the pipeline does it, then both estimates are compared with the meter run on the
mixed programme itself (``mix`` then ``meter.integrated``: what the output's audio holds before
its AAC encode): ``laid_out_lufs`` (the segments' saved sub-blocks, gated over the programme) and
``shot_level_lufs`` (the shots' own loudness, the estimate used before). Printed: the error's
mean and 95th percentile, the copy renders that would miss the file's check (``LOUDNESS_TOLERANCE_LU``)
and so be made twice, and the full mixes chosen for a programme the copy path had on target.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
from pathlib import Path

import numpy as np

from foundation.storyboard import Transition
from media.runner import run_ffmpeg
from stitching import EditPlan, OutputProfile, meter, normalise, plan_edit
from stitching.assembly import keyframe_hints, sample_offsets
from stitching.audio import ON_TARGET_LU, laid_out_lufs, mix, shot_level_lufs
from stitching.loudness_check import LOUDNESS_TOLERANCE_LU

PROFILE = OutputProfile(160, 90, 24)
TRANSITIONS = ["cut", "cut", "crossfade:0.25", "crossfade:0.5", "fade:0.5"]
SOUNDS = {
    "tone": "{a}*sin(2*PI*440*t)",
    "burst then silence": "{a}*sin(2*PI*500*t)*lt(t,{cut})",
    "burst then a quiet tail": "{a}*sin(2*PI*500*t)*(lt(t,{cut})+0.3*gte(t,{cut}))",
    "speech-like": "{a}*sin(2*PI*300*t)*gt(sin(2*PI*3*t),0)",
    "room tone": "0.002*(2*random(0)-1)",
    "quiet tone": "0.01*sin(2*PI*700*t)",
}


def _source(folder: Path, index: int, rng: random.Random) -> tuple[Path, int]:
    """A random clip and its length in frames."""
    kind = rng.choice([*SOUNDS, "silent"])
    seconds = rng.choice([1.0, 1.5, 2.0, 2.5])
    path = folder / f"src{index}.mp4"
    args = ["-f", "lavfi", "-i", f"testsrc2=s=160x90:r=24:d={seconds}"]
    if kind != "silent":
        expr = SOUNDS[kind].format(a=round(rng.uniform(0.05, 0.8), 3), cut=rng.uniform(0.2, 0.8))
        args += ["-f", "lavfi", "-i", f"aevalsrc='{expr}':s=48000:d={seconds}"]
    run_ffmpeg([*args, "-c:v", "libx264", "-preset", "ultrafast", "-t", str(seconds), str(path)])
    return path, round(seconds * 24)


def _programme(folder: Path, rng: random.Random) -> EditPlan:
    folder.mkdir(parents=True)
    sources = [_source(folder, i, rng) for i in range(rng.randint(2, 5))]
    transitions = [Transition.parse("cut")] + [
        Transition.parse(rng.choice(TRANSITIONS)) for _ in sources[1:]
    ]
    frames = [n for _, n in sources]
    hints = keyframe_hints(transitions, frames, PROFILE)
    offsets = sample_offsets(transitions, frames, PROFILE)
    items = []
    for i, ((src, n), (head, tail), tr) in enumerate(zip(sources, hints, transitions, strict=True)):
        segment = normalise(src, PROFILE, n, folder / f"s{i}.mp4", head_frames=head,
                            tail_frames=tail, sample_offset=offsets[i])  # fmt: skip
        items.append((f"s{i}", segment, tr))
    return plan_edit(items, PROFILE)


def _measured(plan: EditPlan) -> float:
    rate = plan.profile.sample_rate
    blocks = meter.sub_blocks(mix(plan), 0, rate, ends=True)
    return meter.integrated(blocks.energy[: plan.total_samples // meter.hop(rate)], rate)


def _summary(name: str, errors: list[float], twice: int, needless: int, count: int) -> str:
    ordered = sorted(abs(e) for e in errors)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"| {name} | {statistics.fmean(ordered):.2f} | {p95:.2f} | {max(ordered):.2f} |"
        f" {twice} of {count} | {needless} of {count} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-loudness-"))
    target = PROFILE.loudness_lufs
    results: dict[str, tuple[list[float], int, int]] = {}
    heard = 0
    for index in range(args.plans):
        plan = _programme(work / f"p{index}", rng)
        truth = _measured(plan)
        if truth <= meter.SILENCE:
            continue
        heard += 1
        for name, estimate in (("laid_out_lufs (now)", laid_out_lufs(plan)),
                               ("shot_level_lufs (before)", shot_level_lufs(plan))):  # fmt: skip
            errors, twice, needless = results.get(name, ([], 0, 0))
            value = target if estimate is None else estimate  # None: the copy path is taken
            copies = abs(value - target) <= ON_TARGET_LU
            twice += copies and abs(truth - target) > LOUDNESS_TOLERANCE_LU
            needless += not copies and abs(truth - target) <= ON_TARGET_LU
            results[name] = ([*errors, value - truth], twice, needless)
    print(f"{heard} programmes with sound of {args.plans} (seed {args.seed}), target {target} LUFS")
    print(
        "| estimate | mean abs error (LU) | p95 | max | copy renders made twice"
        " | full mixes the copy path had on target |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, (errors, twice, needless) in results.items():
        print(_summary(name, errors, twice, needless, heard))
    print(f"(work files in {work}; {np.__name__} {np.__version__})")


if __name__ == "__main__":
    main()
