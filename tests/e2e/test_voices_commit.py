"""A commit keeps an unapproved voiced shot's preview clip: its line is still voiced in the final
(the preview's speech, reused from the cache for nothing) and captioned where it plays."""

from __future__ import annotations

import pysubs2
import pytest

from foundation.settings import Settings
from foundation.storyboard import parse_storyboard
from pipeline import commit
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from pipeline.report import job_report
from stitching.voiceover import LEAD_S


def test_a_kept_shot_keeps_its_voice(tmp_path):
    ctx = RunContext.create("local", Settings(data_dir=tmp_path / "data"))
    board = {
        "title": "kept", "mode": "preview", "output": {"size": "160x90", "fps": 24},
        "characters": [{"id": "mara", "description": "a woman", "voice": "calm, low"}],
        "scenes": [{"id": "s", "shots": [
            {"id": "a", "prompt": "a harbour", "duration": 2, "characters": ["mara"],
             "dialogue": "Go now.", "speaker": "mara"},
            {"id": "b", "prompt": "a street", "duration": 1},
        ]}],
    }  # fmt: skip
    preview = commit.start_preview(ctx, parse_storyboard(board), output=tmp_path / "cut.mp4")
    assert EmbeddedEngine(ctx).run(preview) == "delivered"
    final = commit.commit(ctx, preview, ["b"]).final_job_id
    assert EmbeddedEngine(ctx).run(final) == "delivered"
    kept = job_report(ctx.db_url, final)["shots"][0]
    assert kept["stages"]["tts"]["reused"] is True
    assert kept["stages"]["tts"]["cost_usd"] == 0.0
    (cue,) = pysubs2.load(str(tmp_path / "cut.final.srt")).events
    assert cue.plaintext == "Go now."
    assert cue.start / 1000 == pytest.approx(LEAD_S, abs=0.05)
