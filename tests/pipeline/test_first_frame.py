"""A preview's first frame is written once however many callers ask at the same moment (the review
page re-quotes while a commit routes the same shots): each writes its own temporary file."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2

from media.runner import run_ffmpeg
from pipeline.commit_versions import first_frame


def test_concurrent_callers_all_get_the_frame(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=s=160x90:r=24:d=1", "-c:v", "libx264", "-preset",
         "ultrafast", "-pix_fmt", "yuv420p", str(clip)]
    )  # fmt: skip
    out = tmp_path / "first-frames" / "k0.png"
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda _: first_frame(clip, out), range(16)))
    assert paths == [out] * 16
    image = cv2.imread(str(out))
    assert image is not None
    assert image.shape == (90, 160, 3)
    assert [p.name for p in out.parent.iterdir()] == ["k0.png"], "no temporary file left"
