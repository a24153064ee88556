"""``shotline plan``: table, JSON, exit code 2 for unroutable shots, and agreement with render."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from shotline.commands import models, plan

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"


def app_with(*modules) -> typer.Typer:
    app = typer.Typer()
    for module in (models, plan, *modules):
        module.register(app)
    return app


def run(*args: str, app: typer.Typer | None = None):
    return CliRunner().invoke(app or app_with(), list(args), env={"COLUMNS": "200"})


def small_teaser(tmp_path: Path, keep: set[str] | None = None, **overrides) -> Path:
    """The teaser at 320x180, with only the shots in ``keep`` when given."""
    board = yaml.safe_load((EXAMPLES / "teaser.yaml").read_text())
    board["output"]["size"] = "320x180"
    for scene in board["scenes"]:
        scene["shots"] = [s for s in scene["shots"] if keep is None or s["id"] in keep]
    board |= overrides
    path = tmp_path / "teaser.yaml"
    path.write_text(yaml.safe_dump(board))
    return path


def _one_shot(tmp_path: Path, size: str, **shot: str) -> Path:
    """A storyboard of one 3 s shot, ``one``, at ``size``."""
    path = tmp_path / "one.yaml"
    one = {"id": "one", "prompt": "sky", "duration": 3, **shot}
    path.write_text(yaml.safe_dump({"title": "one", "output": {"size": size},
                                    "scenes": [{"id": "a", "shots": [one]}]}))  # fmt: skip
    return path


def test_table_with_forecast_and_explanations():
    done = run("plan", str(EXAMPLES / "teaser.yaml"), "--providers", "emulated", "--explain")
    assert done.exit_code == 0, done.output
    assert "Neon Harbour - teaser: preview plan (7 shots)" in done.output
    assert "expected with retakes" in done.output
    assert "at 95% confidence" in done.output
    assert "expected wall time" in done.output
    assert "budget $25.00: headroom" in done.output
    assert "retired on 2026-09-24" in done.output


def test_json_plan():
    done = run(
        "plan",
        str(EXAMPLES / "teaser.yaml"),
        "--mode",
        "final",
        "--providers",
        "emulated",
        "--json",
    )
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["mode"] == "final"
    assert len(data["shots"]) == 7
    first = data["shots"][0]
    assert first["candidates"][0]["quote_usd"] > 0
    assert first["explanation"]["chosen"]["model"] == first["candidates"][0]["model"]
    assert data["forecast"]["cost_low_usd"] <= data["forecast"]["cost_expected_usd"]
    assert data["unroutable"] == []


def test_unroutable_shot_exits_2_with_reasons(tmp_path):
    board = _one_shot(tmp_path, "7680x4320")
    done = run("plan", str(board), "--providers", "local")
    assert done.exit_code == 2
    assert "1 shot cannot be rendered by any enabled model" in done.output
    assert "scenes[0].shots[0]: shot 'one': no model can take it" in done.output
    assert "size 7680x4320 over 3840x2160 (local/animatic)" in done.output
    as_json = run("plan", str(board), "--providers", "local", "--json")
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["unroutable"][0]["shot_id"] == "one"


def test_a_mistyped_pin_of_a_preview_is_named_once(tmp_path):
    """It was named by the commit note (the final could not render it) and by the error."""
    board = _one_shot(tmp_path, "320x180", model="luma/ray-flash-3")
    done = run("plan", str(board), "--providers", "emulated")
    assert done.exit_code == 2, done.output
    assert done.output.count("luma/ray-flash-3 (") == 1
    assert "a commit of this preview would be refused" not in done.output


def test_invalid_storyboard_and_registry_exit_2(tmp_path, monkeypatch):
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: x\nscenes: []\n")
    done = run("plan", str(bad))
    assert done.exit_code == 2
    assert "scenes" in done.output
    user = tmp_path / "reg.yaml"
    user.write_text("models:\n  - id: luma/ray-2\n    tier: legendary\n")
    monkeypatch.setenv("SHOTLINE_REGISTRY", str(user))
    from foundation.settings import get_settings

    get_settings.cache_clear()
    done = run("plan", str(EXAMPLES / "one-shot.yaml"))
    assert done.exit_code == 2
    assert "(luma/ray-2).tier" in done.output


def test_unknown_providers_choice_exits_2():
    done = run("plan", str(EXAMPLES / "one-shot.yaml"), "--providers", "cloud")
    assert done.exit_code == 2
    assert "'cloud' is not one of 'local', 'emulated', 'live', 'auto'" in done.output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("providers", "mode"),
    [
        ("local", "preview"),
        pytest.param("emulated", "final", marks=pytest.mark.provider_resolution),
    ],
)
def test_plan_agrees_with_what_render_does(tmp_path, providers, mode):
    """Dry run, then the real render: same chains, and each shot rendered by its primary. Three
    shots with three different primaries (a dialogue shot with sound, the two pinned ones) keep
    the comparison and cost less than half of the teaser's seven at the providers' resolution."""
    from shotline.commands import render

    board = small_teaser(tmp_path, keep={"s1-detective", "s1-chase", "s2-device"})
    app = app_with(render)
    flags = ["--providers", providers, "--mode", mode, "--json"]
    planned = run("plan", str(board), *flags, app=app)
    assert planned.exit_code == 0, planned.output
    plan_data = json.loads(planned.stdout)
    done = run("render", str(board), "-o", str(tmp_path / "out.mp4"), *flags, app=app)
    report = json.loads(done.stdout)
    assert done.exit_code == 0, done.output
    assert report["status"] == "delivered"
    for shot, row in zip(plan_data["shots"], report["shots"], strict=True):
        assert row["id"] == shot["shot_id"]
        assert row["model"] == shot["candidates"][0]["model"]
        assert [c["model_id"] for c in row["route"]["candidates"]] == [
            c["model"] for c in shot["candidates"]
        ]
        assert next(a["model"] for a in row["attempt_log"]) == shot["candidates"][0]["model"]
