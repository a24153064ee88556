"""A commit keeps an unapproved voiced shot's preview clip: its line is still voiced in the final
(the preview's speech, reused from the cache for nothing) and captioned where it plays."""

from __future__ import annotations

import pysubs2
import pytest

from adapters.voice_lookup import VoiceAnswer
from foundation.settings import Settings
from foundation.storyboard import parse_storyboard
from pipeline import commit, voice_check
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from pipeline.report import job_report
from stitching.voiceover import LEAD_S


def voiced_board(**spoken: str) -> dict[str, object]:
    """A preview of two shots, the first with Mara's line (``spoken``: more of its fields)."""
    return {
        "title": "kept", "mode": "preview", "output": {"size": "160x90", "fps": 24},
        "characters": [{"id": "mara", "description": "a woman", "voice": "calm, low"}],
        "scenes": [{"id": "s", "shots": [
            {"id": "a", "prompt": "a harbour", "duration": 2, "characters": ["mara"],
             "dialogue": "Go now.", "speaker": "mara", **spoken},
            {"id": "b", "prompt": "a street", "duration": 1},
        ]}],
    }  # fmt: skip


def test_a_kept_shot_keeps_its_voice(tmp_path):
    ctx = RunContext.create("local", Settings(data_dir=tmp_path / "data"))
    board = voiced_board()
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


def test_a_kept_shot_keeps_the_voice_it_was_approved_with_after_its_model_retires(
    tmp_path, monkeypatch
):
    """Previewed with OpenAI's tts-1 before its shutdown (2027-01-06), committed after: the kept
    shot's line was routed anew to ElevenLabs, voiced in another voice and paid again."""
    from contextlib import ExitStack

    from shotline.emulated import use_emulator

    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    board = voiced_board(keyframe="none")
    with ExitStack() as stack:
        use_emulator(ctx, stack, None)
        monkeypatch.setenv("SHOTLINE_TODAY", "2027-01-05")
        preview = commit.start_preview(ctx, parse_storyboard(board), output=tmp_path / "cut.mp4")
        assert EmbeddedEngine(ctx).run(preview) == "delivered"
        voiced = job_report(ctx.db_url, preview)["shots"][0]["stages"]["tts"]
        assert voiced["model"] == "openai/tts-1"
        monkeypatch.setenv("SHOTLINE_TODAY", "2027-02-01")
        # the account lacks the stock voice ElevenLabs would now speak the line in: the kept
        # line is not looked up (the commit was refused naming it)
        gone = voice_check.VoiceLookups(
            lambda voice_id, *_, **__: VoiceAnswer(voice_id, False, "gone")
        )
        monkeypatch.setattr(voice_check.LOOKUPS, "_lookup", gone._lookup)
        monkeypatch.setattr(voice_check.LOOKUPS, "_kept", {})
        quoted = commit.quote(ctx, preview, ["b"])
        (line,) = [s for s in quoted.stages if s.stage == "tts"]
        assert (line.model_id, line.quote_usd, line.reused) == ("openai/tts-1", 0.0, True)
        final = commit.commit(ctx, preview, ["b"]).final_job_id
        assert EmbeddedEngine(ctx).run(final) == "delivered"
    kept = job_report(ctx.db_url, final)["shots"][0]["stages"]["tts"]
    assert (kept["model"], kept["reused"], kept["cost_usd"]) == ("openai/tts-1", True, 0.0)
