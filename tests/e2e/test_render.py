"""The whole slice through the CLI: storyboard in, verified MP4 out, exit codes for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import av
import pytest
import yaml

from media.probe import probe

ROOT = Path(__file__).parents[2]


def _shotline(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shotline", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def _small_teaser(tmp_path: Path, **overrides) -> Path:
    board = yaml.safe_load((ROOT / "examples" / "teaser.yaml").read_text())
    board["output"]["size"] = "320x180"
    board |= overrides
    path = tmp_path / "teaser.yaml"
    path.write_text(yaml.safe_dump(board))
    return path


def _video_seconds(path: Path) -> tuple[float, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for packet in container.demux(stream) if packet.size)
        assert stream.average_rate is not None
        return frames / float(stream.average_rate), frames


@pytest.mark.slow
class TestRenderEndToEnd:
    def test_teaser_duration_matches_plan_within_a_frame(self, tmp_path):
        out = tmp_path / "out" / "teaser.mp4"
        done = _shotline(
            "render",
            str(_small_teaser(tmp_path)),
            "-o",
            str(out),
            "--providers",
            "local",
            "--json",
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr + done.stdout
        report = json.loads(done.stdout)
        assert report["status"] == "delivered"
        planned = 18.5  # 20.5 s of shots minus two 0.5 s crossfades and one 0.5 s fade overlap
        seconds, frames = _video_seconds(out)
        assert frames == round(planned * 24)
        assert abs(seconds - planned) <= 1 / 24
        info = probe(out)
        assert (info.width, info.height) == (320, 180)
        assert info.has_audio
        assert abs((info.audio_duration_s or 0) - planned) <= 0.05
        assert [s["verdict"] for s in report["shots"]] == ["accept"] * 7
        assert all(s["model"] == "local/animatic" for s in report["shots"])


class TestRenderExitCodes:
    @pytest.mark.empty_data_dir
    def test_invalid_storyboard_exits_2_and_writes_nothing(self, tmp_path):
        bad = tmp_path / "bad.yaml"
        bad.write_text(
            "title: x\nscenes:\n  - id: s\n    shots:\n      - id: a\n        prompt: ''\n        duration: 0\n"
        )
        out = tmp_path / "never.mp4"
        done = _shotline("render", str(bad), "-o", str(out), "--providers", "local", cwd=tmp_path)
        assert done.returncode == 2
        assert "scenes[0].shots[0].duration: must be > 0" in done.stderr
        assert "scenes[0].shots[0].prompt: must not be empty" in done.stderr
        assert not out.exists()
        assert not (tmp_path / "shotline-data").exists()

    def test_missing_file_exits_2(self, tmp_path):
        done = _shotline("render", "nope.yaml", "-o", "x.mp4", cwd=tmp_path)
        assert done.returncode == 2
        assert "no such file" in done.stderr

    def test_over_budget_exits_3(self, tmp_path):
        board = _small_teaser(tmp_path, budget_usd=0.01, mode="final")
        done = _shotline(
            "render", str(board), "-o", "x.mp4", "--providers", "emulated", "--json", cwd=tmp_path
        )
        assert done.returncode == 3, done.stdout + done.stderr
