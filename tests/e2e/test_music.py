"""Issue 18's music bed from a file: `music: {file: ...}` is checked before any spend, laid under
the whole programme (looped when shorter), ducked under the shots' sound, and kept in the plan
file; a bed the stitcher cannot read is refused with its path before anything is rendered."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import yaml

from media.runner import run_ffmpeg

TONE_HZ = 3137.0  # no harmonic of the animatic's ambient bed (110-220 Hz) lies near it
RATE = 48000


def board(music: dict[str, object] | None) -> dict[str, object]:
    data: dict[str, object] = {
        "title": "bed",
        "mode": "final",
        "output": {"size": "160x90"},
        "scenes": [
            {
                "id": "s",
                "shots": [
                    {"id": "a", "prompt": "a harbour", "duration": 1, "audio": "ambient"},
                    {"id": "b", "prompt": "a quiet street", "duration": 1},
                ],
            }
        ],
    }
    if music is not None:
        data["music"] = music
    return data


def write_board(tmp_path: Path, music: dict[str, object] | None) -> Path:
    path = tmp_path / "bed.yaml"
    path.write_text(yaml.safe_dump(board(music)))
    return path


def tone(path: Path, seconds: float) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", f"sine=f={TONE_HZ:g}:r={RATE}:d={seconds}", str(path)])
    return path


def mono_audio(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        chunks = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(stream)
            for out in resampler.resample(frame)
        ]
    return np.concatenate(chunks)


def spectrum(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(power, distance in Hz from the tone) of each frequency bin."""
    power = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) ** 2
    return power, np.abs(np.fft.rfftfreq(len(samples), 1 / RATE) - TONE_HZ)


def tone_prominence_db(samples: np.ndarray) -> float:
    """Power at the tone's frequency over the median power of the band around it, in dB."""
    power, off = spectrum(samples)
    band = power[(off > 100) & (off < 1000)]
    return float(10 * np.log10((power[off < 15].max() + 1e-12) / (np.median(band) + 1e-12)))


def tone_power_db(samples: np.ndarray) -> float:
    power, off = spectrum(samples)
    return float(10 * np.log10(power[off < 15].max() + 1e-12))


def test_a_bed_shorter_than_the_programme_loops_under_every_shot(tmp_path, cli):
    bed = tone(tmp_path / "bed.wav", 0.6)
    out = tmp_path / "out.mp4"
    path = write_board(tmp_path, {"file": str(bed), "gain_db": -12})
    done = cli("render", str(path), "-o", str(out), "--providers", "local", "--json")
    assert done.exit_code == 0, done.output
    samples = mono_audio(out)
    assert len(samples) == pytest.approx(2 * RATE, abs=RATE * 0.05)
    quarters = np.array_split(samples, 4)  # the last quarter is only reached by looping
    assert all(tone_prominence_db(q) > 20 for q in quarters), [
        tone_prominence_db(q) for q in quarters
    ]
    # shot a has its own (ambient) sound, so the bed is ducked under it; shot b is silent
    ducked = tone_power_db(samples[int(0.2 * RATE) : int(0.8 * RATE)])
    open_ = tone_power_db(samples[int(1.2 * RATE) : int(1.8 * RATE)])
    assert open_ - ducked > 8, (open_, ducked)
    plan = json.loads(out.with_suffix(".plan.json").read_text())
    assert plan["music"] == {"path": str(bed.resolve()), "gain_db": -12.0, "duck_db": -12.0}


def test_without_a_bed_the_tone_is_absent(tmp_path, cli):
    out = tmp_path / "plain.mp4"
    done = cli("render", str(write_board(tmp_path, None)), "-o", str(out), "--providers", "local")
    assert done.exit_code == 0, done.output
    assert tone_prominence_db(mono_audio(out)) < 10  # the check above can fail


def test_a_relative_bed_is_kept_as_an_absolute_path(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tone(tmp_path / "bed.wav", 0.5)
    path = write_board(tmp_path, {"file": "bed.wav", "duck_under_dialogue": False})
    done = cli("render", str(path), "-o", "out.mp4", "--providers", "local")
    assert done.exit_code == 0, done.output
    music = json.loads((tmp_path / "out.plan.json").read_text())["music"]
    assert music == {"path": str(tmp_path / "bed.wav"), "gain_db": -18.0, "duck_db": 0.0}


def float_wav(path: Path, samples: np.ndarray, rate: int = 48_000) -> Path:
    """A mono 32-bit float WAV (format 3, as a DAW exports), whatever its samples are."""
    data = samples.astype("<f4").tobytes()
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16, 3,
                         1, rate, rate * 4, 4, 32, b"data", len(data))  # fmt: skip
    path.write_bytes(header + data)
    return path


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda d: d / "missing.wav", "missing.wav does not exist"),
        (lambda d: d / "notes.txt", "cannot be read as media"),
        (lambda d: d / "still.png", "has no audio stream"),
        # an hour of digital silence: the two seconds the programme hears are decoded, no more
        (lambda d: d / "silence.flac", "is silent (under -60 dBFS) over the 2.0 s"),
        # a float WAV with one NaN: the AAC encoder refused the programme after every shot
        (lambda d: d / "nan.wav", "has samples that are not numbers (NaN or infinity)"),
    ],
)
def test_a_bed_the_stitcher_cannot_read_is_refused_before_any_spend(tmp_path, cli, make, why):
    (tmp_path / "notes.txt").write_text("not audio")
    run_ffmpeg(["-f", "lavfi", "-i", "color=red:s=16x16:d=0.04", "-frames:v", "1",
                str(tmp_path / "still.png")])  # fmt: skip
    float_wav(tmp_path / "nan.wav", np.where(np.arange(48_000) == 1000, np.nan, 0.5))
    if why.startswith("is silent"):
        run_ffmpeg(["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "3600",
                    str(tmp_path / "silence.flac")])  # fmt: skip
    path = write_board(tmp_path, {"file": str(make(tmp_path))})
    for extra in ([], ["-o", str(tmp_path / "o.mp4")]):
        command = "render" if extra else "plan"
        done = cli(command, str(path), "--providers", "local", *extra)
        assert done.exit_code == 2, done.output
        assert "music.file" in done.output
        assert why in done.output
    assert not (tmp_path / "o.mp4").exists()
    assert not list((tmp_path / "data").rglob("*.mp4"))  # nothing was rendered


def test_a_missing_image_and_a_missing_bed_are_named_in_one_round(tmp_path, cli, monkeypatch):
    """The image was named first and the bed only on the next run; a relative path now says
    where it was read from."""
    monkeypatch.chdir(tmp_path)
    data: dict[str, Any] = board({"file": "bed-missing.wav"})
    data["scenes"][0]["shots"][0]["reference_image"] = "ref-missing.jpg"
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(data))
    done = cli("plan", str(path), "--providers", "local")
    assert done.exit_code == 2, done.output
    text = " ".join(done.output.split())
    assert "files the storyboard names cannot be used" in text
    assert (
        "scenes[0].shots[0].reference_image: ref-missing.jpg does not exist (a relative path, "
        f"read from {tmp_path})"
    ) in text
    assert (
        f"music.file: bed-missing.wav does not exist (a relative path, read from {tmp_path})"
        in text
    )


def test_a_commit_keeps_the_previews_bed(tmp_path, monkeypatch):
    """The final render of approved shots is stitched over the same bed as its preview."""
    from foundation.settings import Settings
    from foundation.storyboard import parse_storyboard
    from pipeline import commit
    from pipeline.context import RunContext
    from pipeline.engine import EmbeddedEngine

    bed = tone(tmp_path / "bed.wav", 0.5)
    ctx = RunContext.create("local", Settings(data_dir=tmp_path / "data"))
    data = board({"file": str(bed), "gain_db": -12}) | {"mode": "preview"}
    preview = commit.start_preview(ctx, parse_storyboard(data), output=tmp_path / "cut.mp4")
    assert EmbeddedEngine(ctx).run(preview) == "delivered"
    final = commit.commit(ctx, preview, ["b"]).final_job_id
    assert EmbeddedEngine(ctx).run(final) == "delivered"
    samples = mono_audio(tmp_path / "cut.final.mp4")
    assert tone_prominence_db(samples[int(1.2 * RATE) : int(1.8 * RATE)]) > 20


def test_the_worked_example_plans_with_its_bed(cli, monkeypatch):
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)  # as its comments say to run it
    done = cli("plan", "examples/dock-scene.yaml", "--providers", "emulated", "--json")
    assert done.exit_code == 0, done.output
    plan = json.loads(done.stdout)
    assert [s["shot_id"] for s in plan["shots"]] == ["arrival", "line"]
    assert plan["stages"]["line"]["model"] == "openai/tts-1"  # Mara's voice speaks her line
    assert plan["music"]["model"] == "elevenlabs/music-v1"  # its bed is composed
