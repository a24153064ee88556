"""Which FFmpeg runs: the wheel's by default whatever the machine has, a configured one only after
its check, and a clear error naming the missing feature and the minimum release otherwise."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from foundation.settings import get_settings
from media.errors import FFmpegUnsupportedError
from media.ffmpeg import MIN_RELEASE, REQUIRED, ffmpeg_binary, ffmpeg_exe
from media.runner import run_ffmpeg
from shotline.cli import app

ALL_FEATURES = {
    "-filters": [f.name for f in REQUIRED if f.kind == "filter"],
    "-encoders": [f.name for f in REQUIRED if f.kind == "encoder"],
    "-muxers": [f.name for f in REQUIRED if f.kind == "muxer"],
}


@pytest.fixture(autouse=True)
def _fresh_choice() -> Iterator[None]:
    ffmpeg_binary.cache_clear()
    yield
    ffmpeg_binary.cache_clear()
    get_settings.cache_clear()


def fake_ffmpeg(folder: Path, version: str, missing: str = "") -> Path:
    """A script that answers -version and the -filters/-encoders/-muxers lists like FFmpeg."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = [f'  -version) echo "ffmpeg version {version} Copyright (c) the FFmpeg developers";;']
    for flag, names in ALL_FEATURES.items():
        lines = "\\n".join(f" ... {name}  V->V  test" for name in names if name != missing)
        cases.append(f'  {flag}) printf "{lines}\\n";;')
    script = folder / "ffmpeg"
    body = "\n".join(cases)
    script.write_text(f'#!/bin/sh\ncase "$2" in\n{body}\n  *) exit 1;;\nesac\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_a_system_ffmpeg_on_path_is_not_used(tmp_path, monkeypatch):
    impostor = fake_ffmpeg(tmp_path / "bin", "4.2.7")
    monkeypatch.setenv("PATH", f"{impostor.parent}:{Path('/usr/bin')}:{Path('/bin')}")
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(impostor))
    chosen = ffmpeg_binary()
    assert chosen.source == "imageio-ffmpeg wheel"
    assert "imageio_ffmpeg" in chosen.path
    assert chosen.release is not None
    assert chosen.release >= MIN_RELEASE
    out = tmp_path / "one.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "color=s=32x32:d=0.2", "-c:v", "libx264", str(out)])
    assert out.stat().st_size > 0


def test_configured_ffmpeg_is_used_after_its_check(monkeypatch):
    wheel = ffmpeg_exe()
    ffmpeg_binary.cache_clear()
    monkeypatch.setenv("SHOTLINE_FFMPEG", wheel)
    get_settings.cache_clear()
    chosen = ffmpeg_binary()
    assert (chosen.path, chosen.source) == (str(Path(wheel).resolve()), "SHOTLINE_FFMPEG")


def test_too_old_ffmpeg_is_refused_with_the_minimum_release(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOTLINE_FFMPEG", str(fake_ffmpeg(tmp_path, "4.4.2-0ubuntu0.22.04.1")))
    get_settings.cache_clear()
    with pytest.raises(FFmpegUnsupportedError, match=r"4\.4\.2.*older than FFmpeg 5\.1"):
        ffmpeg_exe()


def test_missing_feature_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOTLINE_FFMPEG", str(fake_ffmpeg(tmp_path, "6.1.1", missing="xfade")))
    get_settings.cache_clear()
    with pytest.raises(FFmpegUnsupportedError) as caught:
        ffmpeg_exe()
    assert "lacks the filter 'xfade'" in caught.value.message
    assert "transitions" in caught.value.message
    assert "FFmpeg 5.1 or newer" in caught.value.message


def test_cli_refuses_at_start_up_with_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOTLINE_FFMPEG", str(fake_ffmpeg(tmp_path, "6.1.1", missing="libx264")))
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["check", str(tmp_path / "clip.mp4")])
    assert result.exit_code == 2
    assert "lacks the encoder 'libx264'" in result.output


@pytest.mark.parametrize("argv", [["jobs", "resume", "abc"], ["jobs", "resume", "--json", "abc"]])
def test_resuming_a_job_refuses_at_start_up_too(tmp_path, monkeypatch, argv):
    """``jobs resume`` renders, normalises and stitches as ``render`` does: an unusable FFmpeg is
    refused before the job is looked up, not after its shots were paid for."""
    monkeypatch.setenv("SHOTLINE_FFMPEG", str(fake_ffmpeg(tmp_path, "6.1.1", missing="libx264")))
    get_settings.cache_clear()
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    assert "lacks the encoder 'libx264'" in result.output
    listed = CliRunner().invoke(app, ["jobs", "list"])  # runs no FFmpeg: not checked
    assert listed.exit_code == 0, listed.output


def test_doctor_names_the_ffmpeg_in_use(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{fake_ffmpeg(tmp_path / 'bin', '5.1.9').parent}:/usr/bin:/bin")
    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ffmpeg"]["source"] == "imageio-ffmpeg wheel"
    assert report["ffmpeg"]["path"] == ffmpeg_exe()
    assert report["ffmpeg"]["system_ffmpeg_on_path"] == str(tmp_path / "bin" / "ffmpeg")
    assert "not used" in report["ffmpeg"]["note"]


def test_doctor_fails_on_an_unusable_ffmpeg(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOTLINE_FFMPEG", str(tmp_path / "absent-ffmpeg"))
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == 1
    assert "not an executable file" in json.loads(result.output)["ffmpeg"]["error"]
