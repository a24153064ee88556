"""Issue 18's generated music bed end to end: `music: {prompt: ...}` on two silent 1 s shots under
``--providers emulated`` is composed once by the routed music model (the ElevenLabs emulator),
laid under the whole programme (the shots are silent: the sound in the output is the bed), shown
in the report and the closing table, and a second render of the same storyboard reuses the bed
from the cache and books $0 for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from foundation.settings import get_settings
from pipeline.report import MUSIC_KEY, spend_so_far
from stitching.voiceover import RATE, read_mono

BOARD = {
    "title": "scored",
    "mode": "final",
    "output": {"size": "160x90", "fps": 24},
    "scenes": [
        {
            "id": "s",
            "shots": [
                {"id": "a", "prompt": "a harbour at night", "duration": 1},
                {"id": "b", "prompt": "a quiet street", "duration": 1},
            ],
        }
    ],
    "music": {"prompt": "slow synth pulse", "gain_db": -12},
}


def render(cli: Any, tmp_path: Path, name: str) -> tuple[Path, dict[str, Any], str]:
    path = tmp_path / "scored.yaml"
    path.write_text(yaml.safe_dump(BOARD))
    out = tmp_path / f"{name}.mp4"
    done = cli("render", str(path), "-o", str(out), "--providers", "emulated", "--json")
    assert done.exit_code == 0, done.output
    return out, json.loads(done.output[done.output.index("{") :]), done.output


def level_db(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(samples))) + 1e-12))


@pytest.mark.slow
def test_the_composed_bed_plays_under_silent_shots_and_is_reused_for_nothing(tmp_path, cli):
    out, report, _ = render(cli, tmp_path, "first")
    planned = cli("plan", str(tmp_path / "scored.yaml"), "--providers", "emulated", "--json")
    stage = json.loads(planned.stdout)["music"]
    assert (stage["stage"], stage["model"], stage["fallbacks"]) == (
        "music", "elevenlabs/music-v1", [],
    )  # fmt: skip
    assert stage["quote_usd"] == pytest.approx(0.015)
    assert report["status"] == "delivered", report.get("error")
    bed = report["music"]
    assert (bed["model"], bed["status"], bed["reused"]) == (
        "elevenlabs/music-v1",
        "accepted",
        False,
    )
    assert bed["cost_usd"] == pytest.approx(3 * 0.30 / 60)  # the API's 3 s minimum, cut to 2 s
    live = spend_so_far(get_settings().db_url, report["job"])  # what the live progress shows
    assert live[MUSIC_KEY] == pytest.approx(bed["cost_usd"])
    assert sum(live.values()) == pytest.approx(report["cost_usd"])
    samples = read_mono(out)
    assert len(samples) == pytest.approx(2 * RATE, abs=RATE * 0.05)
    for half in np.array_split(samples[int(0.1 * RATE) : int(1.9 * RATE)], 2):
        assert level_db(half) > -30  # the emulated shots are silent: this is the bed
    loudness = report["verification"]["checks"]["loudness"]  # the programme keeps its target
    assert loudness["passed"]
    assert loudness["integrated_lufs"] == pytest.approx(loudness["target_lufs"], abs=1.0)
    edit = json.loads(out.with_suffix(".plan.json").read_text())["music"]
    assert edit["gain_db"] == -12.0
    assert Path(edit["path"]).suffix == ".mp3"

    again, second, _ = render(cli, tmp_path, "second")
    assert second["status"] == "delivered", second.get("error")
    assert (second["music"]["reused"], second["music"]["cost_usd"]) == (True, 0.0)
    assert second["cost_usd"] == pytest.approx(0.0)  # the shots are reused too
    assert level_db(read_mono(again)[int(0.1 * RATE) : int(1.9 * RATE)]) > -30
