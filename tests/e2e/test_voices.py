"""Issue 18's voices end to end: a 2-shot storyboard whose second shot's speaker has a voice renders
under ``--providers emulated`` into an MP4 whose audio has the speech at that shot's offset, with
``.srt``/``.vtt`` cues on it and the voice clip in the plan and edit files; the tts stage is
routed, priced and shown in the report; a line too long for its shot fails at the tts stage,
before any video is paid for. (Reuse of an unchanged line: ``tests/pipeline/test_voices.py``.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import opentimelineio as otio
import pysubs2
import pytest
import yaml

from quality.policy import DetectorConfig
from quality.speech import VAD_RATE, speech_segments
from stitching.voiceover import LEAD_S, read_mono
from tests.quality.test_model_pool import ROOT, SLOW_LOAD

FIRST_S = 1.0  # shot a's length: shot b, the voiced one, starts here
TOO_LONG_SPOKEN = "We leave now."  # 1.2 s at the emulated voice's pace: a 1 s shot holds 0.6 s
# (planning refuses only a line that overruns its shot even at 5 words a second sped up 1.25x)


def board(line: str, voiced_s: float) -> dict[str, object]:
    return {
        "title": "voiced",
        "output": {"size": "160x90", "fps": 24},
        "characters": [{"id": "mara", "description": "a woman", "voice": "calm, low"}],
        "scenes": [
            {
                "id": "s",
                "shots": [
                    {"id": "a", "prompt": "a harbour at night", "duration": FIRST_S},
                    {
                        "id": "b", "prompt": "Mara under a sign", "duration": voiced_s,
                        "audio": "dialogue", "characters": ["mara"], "dialogue": line,
                        "speaker": "mara",
                    },
                ],
            }
        ],
    }  # fmt: skip


def render(
    cli, tmp_path: Path, line: str, voiced_s: float, *extra: str
) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / "voiced.yaml"
    path.write_text(yaml.safe_dump(board(line, voiced_s)))
    out = tmp_path / "voiced.mp4"
    done = cli("render", str(path), "-o", str(out), "--providers", "emulated", "--json", *extra)
    return out, json.loads(done.output[done.output.index("{") :])


def speech_in(path: Path) -> list[tuple[float, float]]:
    pcm = (np.clip(read_mono(path, VAD_RATE), -1, 1) * 32767).astype(np.int16)
    return [(s.start, s.end) for s in speech_segments(pcm, DetectorConfig())]


def test_the_voiced_line_is_heard_and_captioned_at_its_shot(tmp_path, cli):
    out, report = render(cli, tmp_path, "We leave at dawn.", 2.5)
    assert report["status"] == "delivered", report.get("error")
    ((start, end),) = speech_in(out)
    assert start == pytest.approx(FIRST_S + LEAD_S, abs=0.1)
    assert end - start == pytest.approx(4 / 2.5, abs=0.15)  # four words at the emulated rate
    for fmt in ("srt", "vtt"):
        (cue,) = pysubs2.load(str(out.with_suffix(f".{fmt}")), format_=fmt).events
        assert cue.plaintext == "We leave at dawn."
        assert cue.start / 1000 == pytest.approx(start, abs=0.1)
        assert cue.end / 1000 == pytest.approx(end, abs=0.1)
    tts = report["shots"][1]["stages"]["tts"]
    assert (tts["model"], tts["status"], tts["reused"]) == ("openai/tts-1", "accepted", False)
    assert tts["cost_usd"] == pytest.approx(17 * 15 / 1e6, abs=1e-6)  # 17 characters
    voices = json.loads(out.with_suffix(".plan.json").read_text())["captions"]["voices"]
    assert voices["b"]["model"] == "openai/tts-1"
    assert voices["b"]["offset_s"] == LEAD_S
    edit = otio.adapters.read_from_file(str(out.with_suffix(".otio")))
    (track,) = [t for t in edit.tracks if t.name == "voices"]
    assert not track.enabled  # the voice is mixed into A1 already
    (clip,) = track.find_clips()
    placed = clip.range_in_parent().start_time.to_seconds()
    assert placed == pytest.approx(FIRST_S + LEAD_S, abs=1 / 24)
    fcpxml = ET.parse(out.with_suffix(".fcpxml")).getroot()
    (line,) = fcpxml.findall(".//asset-clip[@audioRole='dialogue']")
    assert (line.get("lane"), line.get("offset"), line.get("enabled")) == ("-2", "6/24s", "0")


def test_a_line_too_long_for_its_shot_fails_before_the_video_is_paid(tmp_path, cli):
    _, report = render(cli, tmp_path, TOO_LONG_SPOKEN, 1.0)
    shot = report["shots"][1]
    assert shot["status"] == "failed"
    assert "1.25x allowed" in shot["error"]
    assert [a["number"] for a in shot["attempt_log"]] == [-1]  # the tts try, no video attempt


@pytest.mark.slow
def test_a_render_failing_before_its_gate_loads_exits_with_its_code(tmp_path):
    """The only shot's line is too long: the job fails before the gate's models have loaded, and
    ``shotline render`` exits 4 after the load ends (it aborted with 134 when the process tore
    down while the loading thread was inside onnxruntime)."""
    path, marker = tmp_path / "voiced.yaml", tmp_path / "loaded"
    story = board(TOO_LONG_SPOKEN, 1.0)
    story["scenes"][0]["shots"] = story["scenes"][0]["shots"][1:]  # type: ignore[index]
    path.write_text(yaml.safe_dump(story))
    argv = ["render", str(path), "-o", str(tmp_path / "out.mp4"), "--providers", "emulated"]
    cli = SLOW_LOAD + f"from shotline.cli import app\napp({argv!r}, prog_name='shotline')\n"
    done = subprocess.run(
        [sys.executable, "-c", cli, str(marker)], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "SHOTLINE_DATA_DIR": str(tmp_path / "data")}, timeout=300,
    )  # fmt: skip
    assert done.returncode == 4, done.stderr[-2000:]
    assert "1.25x allowed" in done.stdout
    assert marker.exists(), "the process exited while the gate's models were still loading"
