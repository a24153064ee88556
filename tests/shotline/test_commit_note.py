"""``shotline plan`` (and ``render``) of a preview name the shots a commit could not take to
final, with the reason the commit would refuse them for: the preview is paid before the commit
says so (``benchmarks/explore_boards.py`` with its commit phase, seed 12069: 158 of 348
commits of delivered previews were refused, for a shot longer than one final clip, an aspect or a
prompt no final model takes, or a keyframe no final image model draws). A shot longer than one
final clip is committed now, in the segments a final render splits it into."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from shotline.commands import plan


def _board(mode: str, *, pinned: bool = True, long_s: float = 4) -> dict[str, object]:
    """A free preview at 1:1 (rendered locally, pins ignored) whose second shot pins Veo 3.1,
    which renders 16:9 and 9:16 only: its final could not take it."""
    pin = {"model": "google/veo-3.1"} if pinned else {}
    return {
        "title": "commit note",
        "mode": mode,
        "preview": {"free": True},
        "output": {"size": "240x240", "fps": 24},
        "scenes": [{"id": "s", "shots": [
            {"id": "open", "prompt": "a harbour at dawn", "duration": 2},
            {"id": "long", "prompt": "the ferry crosses the bay", "duration": long_s} | pin,
        ]}],
    }  # fmt: skip


def _plan(tmp_path: Path, board: dict[str, object], *extra: str) -> tuple[int, str]:
    app = typer.Typer()
    plan.register(app)
    app.command("unused")(lambda: None)
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(board))
    args = ["plan", str(path), "--providers", "emulated", *extra]
    done = CliRunner().invoke(app, args, env={"COLUMNS": "400"})
    return done.exit_code, done.stdout


def test_a_preview_plan_names_the_shot_a_commit_could_not_take_to_final(tmp_path):
    code, text = _plan(tmp_path, _board("preview"))
    assert code == 0, text
    assert (
        "note: a commit of this preview would be refused, its final could not render: "
        "scenes[0].shots[1]:" in text
    )
    assert "aspect 1:1 not offered" in text
    code, out = _plan(tmp_path, _board("preview"), "--json")
    pins, note = json.loads(out)["notes"]
    assert pins.startswith("this preview is free (preview: {free: true}), so every shot renders")
    assert "scenes[0].shots[1]" in note
    assert "scenes[0].shots[0]" not in note


@pytest.mark.parametrize(
    ("mode", "pinned", "long_s"),
    [("final", False, 20), ("preview", False, 4), ("preview", False, 20)],
)
def test_no_note_when_the_commit_can_take_every_shot(tmp_path, mode, pinned, long_s):
    """A final has nothing to say; nor a preview whose shots a final renders, one of them in the
    segments a final splits a 20 s shot into (the commit renders those)."""
    code, out = _plan(tmp_path, _board(mode, pinned=pinned, long_s=long_s), "--json")
    assert code == 0, out
    assert json.loads(out)["notes"] == []


def test_a_sheet_no_final_image_model_draws_is_named_too(monkeypatch):
    """A free preview draws a character's sheet and keyframes with the local placeholder; with
    no image provider's key (``--providers live``), a commit's final could not draw them: named
    at the character, as the commit's quote refuses it."""
    from foundation.settings import get_settings
    from foundation.storyboard import parse_storyboard
    from pipeline.commit_final import uncommittable
    from pipeline.context import RunContext

    monkeypatch.setenv("SHOTLINE_GOOGLE_API_KEY", "k")  # a video model, no image model
    get_settings.cache_clear()
    board = parse_storyboard(
        _board("preview", pinned=False)
        | {"output": {"size": "320x180"}, "characters": [{"id": "mara", "description": "a woman"}]}
    )
    data = board.model_dump(mode="json")
    data["scenes"][0]["shots"][1]["characters"] = ["mara"]
    problems = uncommittable(RunContext.create("live", get_settings()), parse_storyboard(data))
    assert [p.path for p in problems] == ["characters[0]"]
    assert "no image model can draw its reference sheet" in problems[0].message
    get_settings.cache_clear()


def test_a_free_preview_is_planned_on_the_local_renderer_it_renders_on(tmp_path):
    """``render`` of a free preview renders every shot on the local animatic for nothing (pins
    ignored); its dry run said the same only after routing it on the hosted models first: it
    quoted $0.15 a shot on Luma and refused the shot pinned to Veo at 1:1 (exit 2), which the
    render takes."""
    code, out = _plan(tmp_path, _board("preview"), "--json")
    assert code == 0, out
    planned = json.loads(out)
    assert planned["providers"] == ["local"]
    assert [line["model"] for line in planned["forecast"]["shots"]] == ["local/animatic"] * 2
    assert planned["forecast"]["cost_high_usd"] == 0
    assert planned["unroutable"] == []
    assert any("this preview is free" in note for note in planned["notes"]), planned["notes"]
