"""Stitcher benchmark: six 5 s 720p24 shots, hard cuts and 0.5 s crossfades, one run, same inputs.

    .venv/bin/python benchmarks/bench_stitch.py [--workdir DIR]

Anchors: MoviePy ``concatenate_videoclips`` + ``write_videofile`` (hard cuts, timed in-process like
ours), one FFmpeg ``xfade``/``acrossfade`` graph re-encoding everything (crossfades), and
normalising the last shot alone (latency from its acceptance to the final file).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from foundation.storyboard import Transition
from media.runner import run_ffmpeg
from stitching import (
    EditPlan,
    OutputProfile,
    Segment,
    StitchResult,
    assemble,
    normalise,
    plan_edit,
)
from stitching.assembly import keyframe_hints, sample_offsets
from stitching.chains import x264_args
from stitching.pieces import WindowPiece
from stitching.video import plan_pieces
from stitching.windows import normalise_between, window_path

PROFILE = OutputProfile(1280, 720, 24)
SOURCES = [
    ("testsrc2=s=1280x720:r=24", 440),
    ("smptehdbars=s=1280x720:r=24", 550),
    ("rgbtestsrc=s=1280x720:r=24", 660),
    ("mandelbrot=s=1280x720:r=24", 330),
    ("gradients=s=1280x720:r=24:speed=0.02", 770),
    ("sierpinski=s=1280x720:r=24", 220),
]
SECONDS, XFADE_S = 5.0, 0.5


def ambience(tone: float) -> str:
    """A tone over a noise bed, like generated ambience; a pure sine is a pathological (slow)
    input for FFmpeg's fast AAC coder and unlike anything a provider returns."""
    return f"aevalsrc=0.2*sin(2*PI*{tone}*t)+0.05*(2*random(0)-1):s=44100"


def make_sources(work: Path) -> list[Path]:
    paths = []
    for index, (video, tone) in enumerate(SOURCES):
        path = work / f"src{index}.mp4"
        run_ffmpeg(
            ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", ambience(tone),
             "-t", str(SECONDS), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-c:a", "aac", str(path)]
        )  # fmt: skip
        paths.append(path)
    return paths


Cost = tuple[float, float]  # wall seconds, CPU seconds (this process + finished children)


def _cpu() -> float:
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(job: Callable[[], Any]) -> tuple[Cost, Any]:
    start, cpu = time.perf_counter(), _cpu()
    value = job()
    return (time.perf_counter() - start, _cpu() - cpu), value


def median(costs: list[Cost]) -> Cost:
    return statistics.median(c[0] for c in costs), statistics.median(c[1] for c in costs)


def moviepy_concat(sources: list[Path], out: Path) -> None:
    from moviepy import VideoFileClip, concatenate_videoclips  # type: ignore[import-untyped]

    clips = [VideoFileClip(str(p)) for p in sources]
    try:
        final = concatenate_videoclips(clips)
        final.write_videofile(str(out), fps=24, codec="libx264", audio_codec="aac", logger=None)
    finally:
        for clip in clips:
            clip.close()


def xfade_graph(segments: list[Segment], out: Path) -> None:
    """Everything through one xfade/acrossfade graph (the usual FFmpeg recipe)."""
    inputs, video, audio = [], "[0:v]", "[0:a]"
    length, t = 0.0, XFADE_S
    for index, segment in enumerate(segments):
        inputs += ["-i", str(segment.path)]
        if index == 0:
            length = segment.frames / 24
            continue
        video += f"[{index}:v]xfade=transition=fade:duration={t}:offset={length - t:.6f}[v{index}];"
        audio += f"[{index}:a]acrossfade=d={t}[a{index}];"
        video, audio = (video if index == len(segments) - 1 else video + f"[v{index}]"), audio
        audio = audio if index == len(segments) - 1 else audio + f"[a{index}]"
        length += segment.frames / 24 - t
    last = len(segments) - 1
    graph = video + audio.rstrip(";")
    run_ffmpeg(
        [*inputs, "-filter_complex", graph.rstrip(";"), "-map", f"[v{last}]", "-map", f"[a{last}]",
         *x264_args(PROFILE), "-c:a", "aac", "-b:a", "192k", "-movflags", "+faststart", str(out)]
    )  # fmt: skip


def normalise_last(src: Path, plan: EditPlan, hints: tuple[int, int], out: Path) -> Segment:
    last = plan.shots[-1]
    return normalise(src, PROFILE, last.frames, out, head_frames=hints[0], tail_frames=hints[1],
                     sample_offset=last.sample_in)  # fmt: skip


def last_shot_then_assemble(
    src: Path, hints: tuple[int, int], plan: EditPlan, work: Path
) -> StitchResult:
    """What the pipeline does once the last shot is accepted (its segment is the plan's last):
    normalise it, with the window into it rendered in the same FFmpeg run (the other windows were
    rendered as their shots arrived), then assemble."""
    last, before = plan.shots[-1], plan.shots[-2]
    normalise_between(src, PROFILE, last.frames, last.segment.path, hints=hints,
                      sample_offset=last.sample_in,
                      before=(before.segment, last.transition))  # fmt: skip
    return assemble(plan, work / "latency.mp4")


def forget_windows(plan: EditPlan, only_last: bool = False) -> None:
    """Empty the window cache (all of it, or the window into the last shot)."""
    pieces = [p for p in plan_pieces(plan) if isinstance(p, WindowPiece)]
    for piece in pieces[-1:] if only_last else pieces:
        cached = window_path(plan, piece)
        if cached is not None:
            cached.unlink(missing_ok=True)


def normalise_set(
    sources: list[Path], transitions: list[Transition], work: Path
) -> tuple[EditPlan, list[tuple[int, int]]]:
    """Normalise every shot with the keyframe hints its transitions need; the edit plan."""
    frames = [PROFILE.frames_for(SECONDS)] * len(sources)
    hints = keyframe_hints(transitions, frames, PROFILE)
    offsets = sample_offsets(transitions, frames, PROFILE)
    work.mkdir(parents=True, exist_ok=True)
    items = []
    for index, (src, (head, tail)) in enumerate(zip(sources, hints, strict=True)):
        segment = normalise(src, PROFILE, frames[index], work / f"seg{index}.mp4",
                            head_frames=head, tail_frames=tail, sample_offset=offsets[index])  # fmt: skip
        items.append((f"s{index}", segment, transitions[index]))
    return plan_edit(items, PROFILE), hints


def latency(src: Path, plan: EditPlan, hints: tuple[int, int], work: Path) -> tuple[Cost, Cost]:
    """Medians of (normalise the last shot alone, normalise it and assemble), interleaved."""
    alone, both = [], []
    for round_ in range(3):
        alone.append(
            timed(partial(normalise_last, src, plan, hints, work / f"alone{round_}.mp4"))[0]
        )
        forget_windows(plan, only_last=True)
        both.append(timed(partial(last_shot_then_assemble, src, hints, plan, work))[0])
    return median(alone), median(both)


def run(work: Path) -> list[tuple[str, Cost, str, Cost]]:
    sources = make_sources(work)
    cuts = [Transition.parse("cut")] * len(sources)
    fades = [cuts[0]] + [Transition.parse(f"crossfade:{XFADE_S}")] * (len(sources) - 1)
    cut_plan, cut_hints = normalise_set(sources, cuts, work / "cut")
    fade_plan, fade_hints = normalise_set(sources, fades, work / "fade")
    assemble(fade_plan, work / "warm.mp4")  # renders every window, as the pipeline does on arrival
    segments = [shot.segment for shot in fade_plan.shots]

    def ours(plan: EditPlan, name: str) -> Cost:
        """Cold: every transition window is rendered inside the timed call."""
        costs = []
        for _ in range(3):
            forget_windows(plan)
            costs.append(timed(partial(assemble, plan, work / name))[0])
        return median(costs)

    ours_cut = ours(cut_plan, "cut.mp4")
    moviepy_s, _ = timed(lambda: moviepy_concat(sources, work / "moviepy.mp4"))
    ours_fade = ours(fade_plan, "fade.mp4")
    graph_s, _ = timed(lambda: xfade_graph(segments, work / "graph.mp4"))
    cut_alone, cut_both = latency(sources[-1], cut_plan, cut_hints[-1], work)
    fade_alone, fade_both = latency(sources[-1], fade_plan, fade_hints[-1], work)
    return [
        ("hard cuts: ours assemble() from normalised segments", ours_cut,
         "MoviePy concatenate_videoclips + write_videofile", moviepy_s),
        ("0.5 s crossfades: ours (windows re-encoded, rest copied)", ours_fade,
         "one FFmpeg xfade/acrossfade graph, full re-encode", graph_s),
        ("last shot accepted -> final file, hard cuts (normalise + assemble)", cut_both,
         "normalising that one shot alone", cut_alone),
        ("last shot accepted -> final file, crossfades (normalise + assemble)", fade_both,
         "normalising that one shot alone", fade_alone),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.workdir or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        rows = run(work)
    print("| case | ours: wall s (CPU s) | anchor | anchor: wall s (CPU s) | ratio |")
    print("|---|---:|---|---:|---:|")
    for name, (ours_s, ours_cpu), anchor, (theirs, their_cpu) in rows:
        if "accepted" in name:
            label = f"{ours_s / theirs:.2f}x the anchor (CPU {ours_cpu / their_cpu:.2f}x)"
        else:
            label = f"{theirs / ours_s:.1f}x faster (CPU {their_cpu / ours_cpu:.1f}x)"
        print(
            f"| {name} | {ours_s:.2f} ({ours_cpu:.2f}) | {anchor} | {theirs:.2f} ({their_cpu:.2f}) "
            f"| {label} |"
        )
    load = os.getloadavg()
    print(f"\nsix {SECONDS:g} s shots at {PROFILE.size}@{PROFILE.rate}, x264 preset {PROFILE.preset};"
          f" {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} at the end")  # fmt: skip


if __name__ == "__main__":
    main()
