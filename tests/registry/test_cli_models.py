"""``shotline models``: the catalog as a table and as JSON."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from shotline.commands import models, plan


def run(*args: str):
    app = typer.Typer()
    models.register(app)
    plan.register(app)
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})


def test_table():
    done = run("models")
    assert done.exit_code == 0, done.output
    assert "model registry (44 models: 24 video, 5 llm, 7 image, 5 tts, 3 music)" in done.output
    for text in ("google/veo-3.1-fast", "local/animatic", "retired 2026-09-24", "12 cr/s"):
        assert text in done.output


def test_json():
    done = run("models", "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    by_id = {m["id"]: m for m in data["models"]}
    assert by_id["openai/sora-2"]["status"] == "retired"
    assert by_id["google/veo-3.1-lite"]["status"] == "active"
    point = by_id["google/veo-3.1"]["price"]["points"][0]
    assert point["source"]
    assert point["effective"] == "2026-09-20"
    assert by_id["runway/gen4.5"]["limits"] == {"concurrency": 2, "rpm": 60, "window_s": 60.0}


def test_malformed_registry_exits_2(tmp_path, monkeypatch):
    user = tmp_path / "reg.yaml"
    user.write_text("models:\n  - id: fal/veo3\n    limits: {concurrency: 0}\n")
    monkeypatch.setenv("SHOTLINE_REGISTRY", str(user))
    from foundation.settings import get_settings

    get_settings.cache_clear()
    done = run("models")
    assert done.exit_code == 2
    assert "(fal/veo3).limits.concurrency" in done.output


def test_image_models_show_their_sizes_references_and_seed():
    done = run("models", "--wide")
    assert done.exit_code == 0, done.output
    rows = {line.split("│")[1].strip(): line for line in done.output.splitlines() if "│" in line}
    assert "any ≤14142px" in rows["fal/flux-schnell"]
    assert "t2i, 16 refs" in rows["openai/gpt-image-2"]
    assert "any ≤3840px" in rows["openai/gpt-image-2"]
    assert "t2i, 4 refs" in rows["fal/flux-kontext-pro"]
    assert rows["fal/flux-schnell"].split("│")[10].strip() == "yes"
    assert "retired" in rows["gemini/imagen-4"]


def test_a_model_limited_over_another_window_shows_it(tmp_path, monkeypatch):
    user = tmp_path / "reg.yaml"
    user.write_text(
        "models:\n  - id: google/veo-3.1\n    limits: {concurrency: 2, rpm: 50, window_s: 86400}\n"
    )
    monkeypatch.setenv("SHOTLINE_REGISTRY", str(user))
    from foundation.settings import get_settings

    get_settings.cache_clear()
    done = run("models", "--wide")
    assert done.exit_code == 0, done.output
    rows = {line.split("│")[1].strip(): line for line in done.output.splitlines() if "│" in line}
    assert "2 at once, 50/86400 s" in rows["google/veo-3.1"]
    assert "at once, 60/min" in rows["runway/gen4.5"]
    data = json.loads(run("models", "--json").stdout)
    veo = next(m for m in data["models"] if m["id"] == "google/veo-3.1")
    assert veo["limits"] == {"concurrency": 2, "rpm": 50, "window_s": 86400.0}
