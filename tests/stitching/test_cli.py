from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from shotline.commands import stitch as stitch_cmd
from tests.stitching.conftest import make_clip

app = typer.Typer()
stitch_cmd.register(app)


@app.callback()
def _root() -> None:
    """Keep ``stitch`` as a named sub-command."""


def test_stitch_clips_prints_plan_and_verification(shots, tmp_path):
    out = tmp_path / "out.mp4"
    args = ["stitch", *map(str, shots[:2]), "-o", str(out), "--size", "160x90", "--fps", "24",
            "--transition", "crossfade:0.25", "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["verification"]["passed"]
    assert payload["plan"]["total_frames"] == 36 + 36 - 6
    assert payload["plan"]["shots"][1]["transition"] == "crossfade:0.25"
    assert out.exists()
    edit = {fmt: Path(path) for fmt, path in payload["edit"].items()}
    assert {fmt: path.name for fmt, path in edit.items()} == {
        "otio": "out.otio", "fcpxml": "out.fcpxml", "edl": "out.edl"
    }  # fmt: skip
    assert all(path.is_file() for path in edit.values())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_stitch_from_a_stored_plan(shots, tmp_path):
    first = tmp_path / "first.mp4"
    args = ["stitch", *map(str, shots), "-o", str(first), "--size", "160x90", "--keep-segments"]
    assert CliRunner().invoke(app, args).exit_code == 0
    again = tmp_path / "again.mp4"
    plan = tmp_path / "first.plan.json"
    stored = json.loads(plan.read_text())
    assert stored.pop("captions") == {"dialogue": {}, "burn_in": False}
    result = CliRunner().invoke(app, ["stitch", "--plan", str(plan), "-o", str(again), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["plan"] == stored


def test_a_stored_plan_keeps_its_captions(shots, tmp_path):
    """A job's plan carries its dialogue, so stitching it again writes the same captions."""
    first = tmp_path / "first.mp4"
    args = ["stitch", *map(str, shots[:2]), "-o", str(first), "--size", "160x90", "--keep-segments"]
    assert CliRunner().invoke(app, args).exit_code == 0
    plan = tmp_path / "first.plan.json"
    stored = json.loads(plan.read_text())
    second = stored["shots"][1]["shot_id"]
    stored["captions"] = {"dialogue": {second: "We leave at dawn."}, "burn_in": False}
    plan.write_text(json.dumps(stored))
    again = tmp_path / "again.mp4"
    result = CliRunner().invoke(app, ["stitch", "--plan", str(plan), "-o", str(again), "--json"])
    assert result.exit_code == 0, result.output
    assert "We leave at dawn." in (tmp_path / "again.srt").read_text()
    assert json.loads((tmp_path / "again.plan.json").read_text())["captions"] == stored["captions"]
    stored["captions"] = {"dialogue": {second: 7}}
    plan.write_text(json.dumps(stored))
    bad = CliRunner().invoke(app, ["stitch", "--plan", str(plan), "-o", str(again), "--json"])
    assert bad.exit_code == 2, bad.output


def test_bad_transition_is_invalid_input(shots, tmp_path):
    args = ["stitch", str(shots[0]), "-o", str(tmp_path / "o.mp4"), "--transition", "spin:1"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 2
    assert json.loads(result.output)["problems"][0].startswith("--transition")


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--loudness", "-5", "--loudness: Value error, must be at most -10 LUFS"),
        ("--fps", "0", "--fps: Input should be greater than or equal to"),
        ("--size", "161x90", "--size: Value error,"),
    ],
)
def test_output_settings_are_checked_as_a_storyboards_output(shots, tmp_path, option, value, said):
    """The same checks as ``output`` in a storyboard (``OutputSpec``): a loudness the limiter
    cannot reach is refused before any work, not after the stitch as a failed loudness check."""
    args = ["stitch", str(shots[0]), "-o", str(tmp_path / "o.mp4"), option, value, "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert said in " ".join(json.loads(result.output)["problems"])
    assert not (tmp_path / "o.mp4").exists()


def test_unreadable_clip_is_invalid_input(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"nope")
    result = CliRunner().invoke(app, ["stitch", str(bad), "-o", str(tmp_path / "o.mp4")])
    assert result.exit_code == 2


def test_plan_with_missing_segments_is_invalid_input(shots, tmp_path):
    first = tmp_path / "first.mp4"
    args = ["stitch", *map(str, shots[:2]), "-o", str(first), "--size", "160x90", "--json"]
    assert CliRunner().invoke(app, args).exit_code == 0
    plan = tmp_path / "first.plan.json"
    result = CliRunner().invoke(
        app, ["stitch", "--plan", str(plan), "-o", str(tmp_path / "b.mp4"), "--json"]
    )
    assert result.exit_code == 2
    assert "missing" in json.loads(result.output)["detail"]


def test_variants_are_reframed_from_the_same_edit(shots, tmp_path):
    import av

    out = tmp_path / "out.mp4"
    args = ["stitch", *map(str, shots[:2]), "-o", str(out), "--size", "160x90",
            "--transition", "crossfade:0.25", "--variant", "9:16", "--variant", "1:1", "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload["variants"]) == {"9x16", "1x1"}
    frames = payload["plan"]["total_frames"]
    for label, found in payload["variants"].items():
        assert found["verification"]["passed"]
        assert found["plan"]["total_frames"] == frames
        with av.open(found["output"]) as container:
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
        assert Path(found["output"]).name == f"out.{label}.mp4"
        assert height == 90
        assert width == (90 if label == "1x1" else 50)


def test_a_variant_the_output_cannot_give_is_refused_before_any_work(shots, tmp_path):
    out = tmp_path / "out.mp4"
    args = ["stitch", str(shots[0]), "-o", str(out), "--size", "160x90", "--variant", "16:9",
            "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert json.loads(result.output)["problems"][0].startswith("--variant")
    assert not out.exists()


def test_a_clip_too_short_for_its_crossfade_is_refused_before_any_clip_is_normalised(
    shots, tmp_path, monkeypatch
):
    """It was refused by the edit plan once every clip had been normalised (three segments
    left in ``out.segments``)."""
    from stitching import assembly

    short = make_clip(tmp_path / "short.mp4", seconds=3 / 24)
    normalised: list[Path] = []
    real = assembly.normalise  # type: ignore[attr-defined]

    def counted(src: Path, *args: Any, **kwargs: Any) -> Any:
        normalised.append(src)
        return real(src, *args, **kwargs)

    monkeypatch.setattr(assembly, "normalise", counted)
    out = tmp_path / "out.mp4"
    args = ["stitch", str(shots[0]), str(short), str(shots[1]), "-o", str(out), "--size", "160x90",
            "--transition", "crossfade:0.25", "--keep-segments", "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert json.loads(result.output)["detail"] == (
        "shot 02-short: crossfade:0.25 overlap (6 frames) is not shorter than the shot (3 frames)"
    )
    assert normalised == []
    assert not out.exists()
    assert not (tmp_path / "out.segments").exists()


def test_an_existing_output_is_kept_unless_forced(shots, tmp_path):
    """``stitch -o`` wrote over an earlier stitch whose variants and segments stayed beside it."""
    out = tmp_path / "st.mp4"
    out.write_bytes(b"an earlier edit")
    args = ["stitch", str(shots[0]), "-o", str(out), "--size", "160x90", "--json"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2, refused.output
    assert json.loads(refused.output)["problems"] == [
        "--output: pass --force to overwrite it, or choose another -o path"
    ]
    assert out.read_bytes() == b"an earlier edit"
    forced = CliRunner().invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert out.read_bytes()[4:8] == b"ftyp"
