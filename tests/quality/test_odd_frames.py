"""A provider's clip of odd frame sizes (a few pixels, a thin strip) gets a verdict naming what is
wrong: the gate's one decode neither raises nor kills the process on it (OpenCV's optical flow
raised on pictures under 12 px and crashed the process on ones under 32 rows)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from quality.expectation import ClipExpectation
from quality.gate import evaluate

ASKED = ClipExpectation(duration_s=1, width=320, height=180, fps=10, audio="none")


def _moving(make_clip: Callable[..., Path], size: str) -> Path:
    return make_clip(f"odd-{size}", "-f", "lavfi", "-i", f"testsrc2=s={size}:r=10:d=1")


@pytest.mark.parametrize("size", ["2x2", "4000x16"])
def test_a_clip_too_small_or_thin_to_analyse_is_refused_with_its_size(
    make_clip: Callable[..., Path], size: str
):
    verdict = evaluate(_moving(make_clip, size), ASKED)
    assert verdict.action in ("retry", "escalate")
    assert f"aspect {size}" in " ".join(f.message for f in verdict.drivers)


def test_a_clip_under_32_rows_does_not_kill_the_process(make_clip: Callable[..., Path]):
    clip = _moving(make_clip, "320x24")
    code = (
        "import sys; from pathlib import Path; from quality.gate import evaluate; "
        "from tests.quality.test_odd_frames import ASKED; "
        "v = evaluate(Path(sys.argv[1]), ASKED); print(v.action, *(f.code for f in v.drivers))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(clip)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.split()[0] in ("retry", "escalate")
    assert "wrong_aspect" in done.stdout.split()
