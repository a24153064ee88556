"""An emulated clip shows what a hosted model's would: no shot id, prompt or frame stamp (the
local animatic's annotations), only the text its prompt asks to be shown, and never the line it
speaks. Read back with the gate's own OCR on a decoded frame."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from adapters.animatic import render_animatic
from adapters.base import GenerationRequest
from emulators.media import ClipSpec, render_clip
from quality.analysis import Thumb
from quality.onscreen_text import normalise, read_frames, shared_reader
from quality.policy import DetectorConfig


def middle_frame_text(path: Path) -> str:
    """What the gate reads on the clip's middle frame (its confidence and length filter)."""
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    middle = Thumb(0.0, np.ascontiguousarray(frames[len(frames) // 2].to_ndarray(format="rgb24")))
    (read,) = read_frames([middle], shared_reader(), DetectorConfig())
    return normalise(read.joined)


def spec(prompt: str) -> ClipSpec:
    return ClipSpec("runway", "gen4.5", prompt, 1.0, 480, 270, fps=12.0, audio=True, seed=3)


def test_an_emulated_clip_carries_no_annotation(tmp_path: Path):
    prompt = "a quiet harbour at night with boats"
    clip = render_clip(spec(prompt), tmp_path / "job1.mp4")
    assert middle_frame_text(clip) == ""
    annotated = render_animatic(
        GenerationRequest("job1", prompt, 1.0, 480, 270, 12.0, "local/animatic"),
        tmp_path / "animatic.mp4",
    )
    assert "HARBOUR" in middle_frame_text(annotated), "the local animatic writes its prompt"


def test_an_emulated_clip_shows_the_text_asked_for_and_not_the_spoken_line(tmp_path: Path):
    prompt = 'a title card that reads "NEON HARBOUR" The speaker says: "We leave at dawn"'
    read = middle_frame_text(render_clip(spec(prompt), tmp_path / "job1.mp4"))
    assert "NEON HARBOUR" in read
    assert "DAWN" not in read
    assert "TITLE" not in read
