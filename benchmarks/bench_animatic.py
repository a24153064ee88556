"""Local renderer speed: seconds of video rendered per second of wall time (anchor: real time, 1x).

Run: .venv/bin/python benchmarks/bench_animatic.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.animatic import render_animatic
from adapters.base import GenerationRequest

CASES = [
    ((1280, 720), 24.0, 4.0, True),
    ((1920, 1080), 24.0, 4.0, True),
    ((640, 360), 30.0, 4.0, False),
]


def main() -> None:
    print("| size | fps | clip s | audio | wall s | x real time |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for (width, height), fps, seconds, audio in CASES:
            request = GenerationRequest(
                shot_id="bench",
                prompt="Neon harbour at night, rain, slow push in",
                duration_s=seconds,
                width=width,
                height=height,
                fps=fps,
                model="local/animatic",
                audio=audio,
            )
            start = time.perf_counter()
            render_animatic(request, Path(tmp) / "clip.mp4")
            wall = time.perf_counter() - start
            print(
                f"| {width}x{height} | {fps:g} | {seconds:g} | {audio} | {wall:.2f} | {seconds / wall:.1f}x |"
            )


if __name__ == "__main__":
    main()
