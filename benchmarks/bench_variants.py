"""Variants benchmark: four 3 s 720p24 shots with 0.5 s crossfades, delivered as 16:9 alone and as
16:9 + 9:16 + 1:1 by reframing, from the same accepted clips.

    .venv/bin/python benchmarks/bench_variants.py [--workdir DIR] [--rounds N]

Each round times, from the accepted clips: normalising every shot and assembling the 16:9 output
(the anchor), then the same plus ``deliver_variants`` (track, reframe, assemble, verify each
variant). Prints the medians, the ratio (goal <= 1.5x) and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from foundation.storyboard import Transition
from foundation.variants import resolve
from media.runner import run_ffmpeg
from stitching import EditPlan, OutputProfile, assemble, deliver_variants, normalise, plan_edit
from stitching.assembly import keyframe_hints, sample_offsets

PROFILE = OutputProfile(1280, 720, 24)
SECONDS, XFADE_S = 3.0, 0.5
MOVING = (
    "color=c=0x203040:s=1280x720:r=24[bg];color=c=0xf0e0c0:s=160x240:r=24[fg];"
    "[bg][fg]overlay=x=100+300*t:y=240"
)
SOURCES = [
    ("testsrc2=s=1280x720:r=24", 440),
    (MOVING, 550),
    ("mandelbrot=s=1280x720:r=24", 330),
    ("smptehdbars=s=1280x720:r=24", 660),
]


def make_sources(work: Path) -> list[Path]:
    paths = []
    for index, (video, tone) in enumerate(SOURCES):
        path = work / f"src{index}.mp4"
        noise = f"aevalsrc=0.2*sin(2*PI*{tone}*t)+0.05*(2*random(0)-1):s=44100"
        run_ffmpeg(
            ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", noise, "-t", str(SECONDS),
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
             str(path)]
        )  # fmt: skip
        paths.append(path)
    return paths


def deliver_main(sources: list[Path], work: Path) -> EditPlan:
    transitions = [Transition.parse("cut")] + [Transition.parse(f"crossfade:{XFADE_S}")] * (
        len(sources) - 1
    )
    frames = [PROFILE.frames_for(SECONDS)] * len(sources)
    hints = keyframe_hints(transitions, frames, PROFILE)
    offsets = sample_offsets(transitions, frames, PROFILE)
    work.mkdir(parents=True, exist_ok=True)
    items = []
    for index, (src, (head, tail)) in enumerate(zip(sources, hints, strict=True)):
        segment = normalise(src, PROFILE, frames[index], work / f"seg{index}.mp4",
                            head_frames=head, tail_frames=tail, sample_offset=offsets[index])  # fmt: skip
        items.append((f"s{index}", segment, transitions[index]))
    plan = plan_edit(items, PROFILE)
    assemble(plan, work / "out.mp4")
    return plan


def deliver_all(sources: list[Path], work: Path) -> None:
    plan = deliver_main(sources, work)
    variants = [resolve(text, PROFILE.width, PROFILE.height) for text in ("9:16", "1:1")]
    deliver_variants(plan, work / "out.mp4", variants, work)


def timed(job: object, *args: object) -> float:
    start = time.perf_counter()
    job(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        sources = make_sources(work)
        main_s, all_s = [], []
        for round_ in range(args.rounds):  # interleaved, so load changes hit both alike
            main_s.append(timed(deliver_main, sources, work / f"main{round_}"))
            all_s.append(timed(deliver_all, sources, work / f"all{round_}"))
    anchor, ours = statistics.median(main_s), statistics.median(all_s)
    shots = f"{len(SOURCES)} x {SECONDS:g} s 720p24 shots, {XFADE_S:g} s crossfades"
    print(f"variants benchmark: {shots}, median of {args.rounds} rounds")
    print("| delivery | wall s |\n|---|---|")
    print(f"| 16:9 alone (normalise + assemble) | {anchor:.2f} |")
    print(f"| 16:9 + 9:16 + 1:1 (reframed) | {ours:.2f} |")
    print(f"ratio: {ours / anchor:.2f}x (goal <= 1.5x); load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
