"""Variants benchmark: three 3 s 720p24 shots with 0.5 s crossfades, delivered as 16:9 alone and as
16:9 + 9:16 + 1:1 by reframing, from the same accepted clips.

    .venv/bin/python benchmarks/bench_variants.py [--workdir DIR] [--rounds N]

Two measures, each 16:9 alone (the anchor) against 16:9 + 9:16 + 1:1, runs interleaved:
- from the accepted clips, all the work: normalise every shot (and reframe it per variant), then
  assemble and verify every output;
- from the last shot's acceptance (the others normalised, reframed and their transition windows
  rendered as they arrived, as the pipeline does): the same for that shot, then assemble and
  verify every output.
Prints the medians (wall and CPU seconds), the ratios (goal <= 1.5x) and the load average; then
the native arm's provider cost: the same three shots planned at final on the hosted providers with
9:16 and 1:1 as ``render: native`` (each shot rendered again in the variant's aspect), against
$0 for reframing (``--native-only`` prints that alone: a plan, nothing is rendered).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from foundation.storyboard import Transition
from foundation.variants import Variant, resolve
from media.runner import run_ffmpeg
from stitching import (
    EditPlan,
    OutputProfile,
    Segment,
    VariantJob,
    assemble,
    deliver_variants,
    made_segment,
    normalise_fanout,
    plan_edit,
    prerender,
    reframed,
    variant_profile,
    variant_segment_path,
)
from stitching.assembly import keyframe_hints, sample_offsets

Item = tuple[str, Segment, Transition]

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


def _transitions(count: int) -> list[Transition]:
    return [Transition.parse("cut")] + [Transition.parse(f"crossfade:{XFADE_S}")] * (count - 1)


def _reframe(
    segment: Segment, hints: tuple[int, int], shot_id: str, work: Path, variants: list[Variant]
) -> list[Segment]:
    return [
        reframed(segment, hints, PROFILE, v, variant_segment_path(work, shot_id, v.label))
        for v in variants
    ]


def _prerender(items: list[Item], profile: OutputProfile, work: Path) -> None:
    """The window into the newest of ``items`` (as ``pipeline.assembly.prerender_windows``)."""
    if len(items) > 1:
        prerender(profile, items[-2:], work, starts_edit=False)


def arrive(sources: list[Path], work: Path, variants: list[Variant]) -> EditPlan:
    """What the pipeline does as each shot is accepted, in order: normalise it with its variants
    and the windows from the shot before, in one run (``normalise_fanout``); then, as
    ``pipeline.assembly`` does, ask for each variant and window (found made)."""
    transitions = _transitions(len(sources))
    frames = [PROFILE.frames_for(SECONDS)] * len(sources)
    hints = keyframe_hints(transitions, frames, PROFILE)
    offsets = sample_offsets(transitions, frames, PROFILE)
    work.mkdir(parents=True, exist_ok=True)
    items: list[Item] = []
    reframes: list[list[Item]] = [[] for _ in variants]
    for index, src in enumerate(sources):
        before = (items[-1][1], transitions[index]) if items else None
        jobs = [
            VariantJob(v, variant_segment_path(work, f"s{index}", v.label),
                       (done[-1][1], transitions[index]) if done else None)
            for v, done in zip(variants, reframes, strict=True)
        ]  # fmt: skip
        segment, _ = normalise_fanout(src, PROFILE, frames[index], work / f"seg{index}.mp4",
                                      hints=hints[index], sample_offset=offsets[index],
                                      before=before, variants=jobs)  # fmt: skip
        items.append((f"s{index}", segment, transitions[index]))
        made = _reframe(segment, hints[index], f"s{index}", work, variants)
        for variant, done, seg in zip(variants, reframes, made, strict=True):
            done.append((f"s{index}", seg, transitions[index]))
            _prerender(done, variant_profile(PROFILE, variant), work)
    return plan_edit(items, PROFILE)


def deliver(plan: EditPlan, out: Path, variants: list[Variant]) -> None:
    """Assemble and verify the main output, then every variant."""
    main = assemble(plan, out)
    deliver_variants(plan, out, variants, out.parent, main=main)


def whole(sources: list[Path], work: Path, variants: list[Variant]) -> None:
    """Every step from the accepted clips to the delivered files."""
    deliver(arrive(sources, work, variants), work / "out.mp4", variants)


def last_shot(src: Path, plan: EditPlan, work: Path, variants: list[Variant]) -> None:
    """The last shot is accepted (the others arrived earlier): normalise it with the window into
    it and its variants with theirs (one run), as the pipeline does, then deliver."""
    last, before = plan.shots[-1], plan.shots[-2]
    hints = (last.transition_frames, 0)
    out = work / f"last-{uuid.uuid4().hex[:6]}.mp4"
    jobs = []
    for variant in variants:
        previous = made_segment(variant_segment_path(work, before.shot_id, variant.label))
        assert previous is not None
        target = variant_segment_path(work, last.shot_id, variant.label)
        jobs.append(VariantJob(variant, target, (previous, last.transition)))
    segment, _ = normalise_fanout(src, PROFILE, last.frames, out, hints=hints,
                                  sample_offset=last.sample_in,
                                  before=(before.segment, last.transition), variants=jobs)  # fmt: skip
    for variant, seg in zip(variants, _reframe(segment, hints, last.shot_id, work, variants),
                            strict=True):  # fmt: skip
        previous = made_segment(variant_segment_path(work, before.shot_id, variant.label))
        assert previous is not None
        pair = [(before.shot_id, previous, before.transition), (last.shot_id, seg, last.transition)]
        _prerender(pair, variant_profile(PROFILE, variant), work)
    items = [(s.shot_id, s.segment, s.transition) for s in plan.shots[:-1]]
    deliver(plan_edit([*items, (last.shot_id, segment, last.transition)], PROFILE), out, variants)


Cost = tuple[float, float]  # wall seconds, CPU seconds (this process and its FFmpeg children)


def _cpu() -> float:
    own, kids = (resource.getrusage(resource.RUSAGE_SELF),
                 resource.getrusage(resource.RUSAGE_CHILDREN))  # fmt: skip
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(job: Callable[..., object], *args: object) -> Cost:
    start, cpu = time.perf_counter(), _cpu()
    job(*args)
    return time.perf_counter() - start, _cpu() - cpu


def measure(sources: list[Path], work: Path, rounds: int) -> dict[str, list[Cost]]:
    """Median (wall, CPU) of 16:9 alone and with variants, for both measures; runs interleaved."""
    variants = [resolve(text, PROFILE.width, PROFILE.height) for text in ("9:16", "1:1")]
    runs: dict[str, list[list[Cost]]] = {"whole": [[], []], "last": [[], []]}
    plan = arrive(sources, work / "arrived", variants)
    for round_ in range(rounds):
        for index, asked in enumerate(([], variants)):
            runs["whole"][index].append(timed(whole, sources, work / f"w{round_}{index}", asked))
            runs["last"][index].append(timed(last_shot, sources[-1], plan, work / "arrived", asked))
    return {name: [_medians(costs) for costs in pair] for name, pair in runs.items()}


def _medians(costs: list[Cost]) -> Cost:
    return statistics.median(c[0] for c in costs), statistics.median(c[1] for c in costs)


def native_arm() -> None:
    """Print the extra provider quotes of 9:16 and 1:1 rendered natively for the three shots."""
    import router
    from foundation.storyboard import parse_storyboard
    from registry import load_registry

    shots = [{"id": f"s{i}", "prompt": f"shot {i} of a harbour", "duration": SECONDS}
             for i in range(len(SOURCES))]  # fmt: skip
    variants = [{"aspect": a, "render": "native"} for a in ("9:16", "1:1")]
    board = parse_storyboard({
        "title": "bench", "mode": "final", "output": {"size": "1280x720", "variants": variants},
        "scenes": [{"id": "s", "shots": shots}],
    })  # fmt: skip
    registry, hosted = load_registry(), set(router.HOSTED)
    plan = router.plan(board, registry, mode=board.mode, providers=hosted)
    judge = router.Router(registry, mode=board.mode, providers=hosted)
    plan, problems = router.with_variants(plan, judge, None)
    main = sum(d.candidates[0].quote_usd for d in plan.decisions.values() if d.candidates)
    print(f"native arm (final, hosted): 16:9 renders quote ${main:.2f}; reframing adds $0")
    for label in ("9x16", "1x1"):
        mine = [c for c in plan.variants if c.label == label and c.render == "native"]
        models = ", ".join(sorted({c.candidates[0].model_id for c in mine}))
        extra = sum(c.quote_usd for c in mine)
        print(f"  {label}: {len(mine)} native renders on {models}: +${extra:.2f} "
              f"({extra / main:.2f}x the 16:9 spend)")  # fmt: skip
    for problem in problems:
        print(f"  refused: {problem}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--native-only", action="store_true")
    args = parser.parse_args()
    if args.native_only:
        native_arm()
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        results = measure(make_sources(work), work, args.rounds)
    shots = f"{len(SOURCES)} x {SECONDS:g} s 720p24 shots, {XFADE_S:g} s crossfades"
    print(f"variants benchmark: {shots}, median of {args.rounds} rounds")
    print("| from | 16:9 alone s (CPU s) | 16:9 + 9:16 + 1:1 s (CPU s) | ratio wall (CPU) |")
    print("|---|---|---|---|")
    labels = {"whole": "accepted clips, all work", "last": "last shot accepted"}
    for name, ((alone, alone_cpu), (both, both_cpu)) in results.items():
        print(f"| {labels[name]} | {alone:.2f} ({alone_cpu:.2f}) | {both:.2f} ({both_cpu:.2f}) | "
              f"{both / alone:.2f}x ({both_cpu / alone_cpu:.2f}x) |")  # fmt: skip
    print(f"goal <= 1.5x; load average {os.getloadavg()[0]:.2f}")
    native_arm()


if __name__ == "__main__":
    main()
