"""The labelled corpus the local score is fitted and measured on (``benchmarks/fit_local_score.py``,
``benchmarks/bench_gate.py``). Good means the standard tier should accept it. Every clip of
``corpus.py`` (good when it has no injected defect), clean clips with only what the standard tier
tolerates by design (clipped audio, a frame larger than asked, a dark picture: good), clips
degraded as a whole (blur, noise, upscaling: what the relative detectors cannot see), on
FFmpeg test patterns and on "dead leaves" pictures (occluding discs with power-law radii, a model of
natural-image statistics used to test camera sharpness), and content cases from
``content_corpus.py`` (the quoted text shown or another, the line spoken or not). No scraped media;
seeded, so the corpus is the same on every run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from media.runner import run_ffmpeg
from quality.expectation import ClipExpectation
from quality.gate import Verdict, evaluate
from quality.image_safety import FrameSafety
from quality.local_score import Model, default_model, signals
from tests.quality import content_corpus as cc
from tests.quality import corpus as tc
from tests.quality.content_media import encode

VERSION = f"score-corpus-1 ({cc.VERSION} + defect corpus of {len(tc.corpus())} clips)"
LINE = "we leave at dawn today"
W, H = 640, 360  # larger than the gate's 512 px thumbnails, as real renders are
DEGRADE = {"blur": "gblur=sigma=4", "noise": "noise=alls=45:allf=t",
           "upscaled": f"scale=160:90,scale={W}:{H}:flags=bilinear"}  # fmt: skip
TOLERATED = {  # what the standard tier accepts by design (warnings there), on a clean pattern:
    # (size rendered, filter, audio)
    "loud": ((tc.W, tc.H), None, "aevalsrc='0.999*sgn(sin(2*PI*440*t))':s=48000:d=2"),
    "larger": ((W, H), None, None),
    "dark": ((tc.W, tc.H), "eq=brightness=-0.3:contrast=0.8", None),
}
PATTERNS = {
    "testsrc2": f"testsrc2=s={W}x{H}:r={tc.FPS}",
    "mandelbrot": f"mandelbrot=s={W}x{H}:r={tc.FPS}",
}


@dataclass(frozen=True)
class Labelled:
    name: str
    good: bool
    make: Callable[[Path], Path]
    expect: ClipExpectation


def dead_leaves(seed: int, size: tuple[int, int] = (800, 420)) -> npt.NDArray[np.uint8]:
    """A grey "dead leaves" picture: 8000 discs of random grey, radii 2-80 px with density
    proportional to 1/r^3, so the picture looks alike at every scale, as natural images do."""
    rng = np.random.default_rng(seed)
    image = np.full((size[1], size[0]), 128, np.uint8)
    low, high = 2.0**-2, 80.0**-2
    for _ in range(8000):
        radius = int((low + rng.random() * (high - low)) ** -0.5)
        centre = (int(rng.integers(0, size[0])), int(rng.integers(0, size[1])))
        cv2.circle(image, centre, radius, int(rng.integers(20, 236)), -1, cv2.LINE_AA)
    return image


def leaves_clip(path: Path, seed: int, degrade: str | None) -> Path:
    """2 s of a slow pan over a dead-leaves picture, with a tone; degraded as a whole if asked."""
    canvas = dead_leaves(seed)
    rng = np.random.default_rng(seed + 1)
    frames = []
    for index in range(round(tc.LENGTH * tc.FPS)):
        x = index * 2
        grey = canvas[30 : 30 + H, x : x + W]
        if degrade == "blur":
            grey = np.asarray(cv2.GaussianBlur(grey, (0, 0), 4), np.uint8)
        elif degrade == "noise":
            grey = np.clip(grey + rng.normal(0, 30, grey.shape), 0, 255).astype(np.uint8)
        elif degrade == "upscaled":
            small = cv2.resize(grey, (W // 4, H // 4), interpolation=cv2.INTER_AREA)
            grey = np.asarray(cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR), np.uint8)
        frames.append(np.asarray(cv2.cvtColor(np.asarray(grey), cv2.COLOR_GRAY2RGB), np.uint8))
    t = np.arange(int(tc.LENGTH * 48_000)) / 48_000
    tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return encode(path, frames, (W, H), tc.FPS, tone)


def _pattern(path: Path, src: str, vf: str | None, audio: str | None = None) -> Path:
    if not path.exists():
        trim = f"trim=duration={tc.LENGTH}"
        args = tc._video(f"{vf},{trim}" if vf else trim, src=src, audio=audio or tc.TONE)
        run_ffmpeg([*args, *tc.ENCODE, str(path)])
    return path


def _quality_cases() -> Iterator[Labelled]:
    expect = tc._expect(width=W, height=H)
    for name, src in PATTERNS.items():
        for kind, vf in DEGRADE.items():
            yield Labelled(f"{name}-{kind}", False, _maker(_pattern, src, vf), expect)
    for name, src in PATTERNS.items():
        for kind, ((width, height), graph, audio) in TOLERATED.items():
            src_at = src.replace(f"s={W}x{H}", f"s={width}x{height}")
            make = _maker(_pattern, src_at, graph, audio)
            yield Labelled(f"{name}-tolerated-{kind}", True, make, tc._expect())
    for seed in range(3):
        yield Labelled(f"leaves-{seed}", True, _maker(leaves_clip, seed, None), expect)
        for kind in DEGRADE:
            yield Labelled(f"leaves-{seed}-{kind}", False, _maker(leaves_clip, seed, kind), expect)


def _maker(function: Callable[..., Path], *args: object) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        return path if path.exists() else function(path, *args)

    return make


def _content_cases() -> Iterator[Labelled]:
    base = ClipExpectation(cc.SECONDS, cc.W, cc.H, cc.FPS, "any")
    for text in cc.text_clips()[::2]:
        make = _maker(lambda path, t=text: cc.write(path, text=t))
        if text.shown is None:
            ask = replace(base, prompt='A sign that reads "OPEN"')
            yield Labelled(f"{text.name}-asked-open", False, make, ask)
            continue
        other = cc.WORDS[(cc.WORDS.index(text.shown) + 3) % len(cc.WORDS)]
        for wanted in (text.shown, other):
            ask = replace(base, prompt=f'A sign that reads "{wanted}"')
            yield Labelled(f"{text.name}-asked-{wanted}", wanted == text.shown, make, ask)
    spoken = replace(base, audio="required", dialogue=LINE, speech="required")
    for sound in cc.sound_clips()[::2]:
        make = _maker(lambda path, s=sound: cc.write(path, sound=s))
        yield Labelled(f"{sound.name}-line", sound.kind == "speech", make, spoken)


def labelled() -> list[Labelled]:
    cases = [
        Labelled(
            c.name, not c.defects, _maker(lambda path, c=c: tc.build(c, path.parent)), c.expect
        )
        for c in tc.corpus()
    ]
    return cases + list(_quality_cases()) + list(_content_cases())


def clip_path(case: Labelled, directory: Path) -> Path:
    name = case.name if case.name in {c.name for c in tc.corpus()} else f"score-{case.name}"
    return case.make(directory / f"{name}.mp4")


def verdict_signals(verdict: Verdict, model: Model | None = None) -> dict[str, float]:
    model = model or default_model()
    length = verdict.metrics.get("video_s", 0.0)
    return signals(verdict.findings, verdict.metrics, length, model)


def run(
    cases: list[Labelled], directory: Path, safety: FrameSafety | None = None
) -> list[tuple[Labelled, Verdict]]:
    """Every case through the gate (clips built once in ``directory``)."""
    return [
        (case, evaluate(clip_path(case, directory), case.expect, safety=safety)) for case in cases
    ]
