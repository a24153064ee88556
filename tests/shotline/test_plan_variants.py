"""``shotline plan`` lists the variants and how each shot gets them."""

from __future__ import annotations

import json

import typer
import yaml
from typer.testing import CliRunner

from shotline.commands import plan
from tests.foundation.test_variants import _board


def test_plan_lists_the_variants_as_reframes_without_provider_cost(tmp_path):
    app = typer.Typer()
    plan.register(app)
    app.command("unused")(lambda: None)  # two commands: typer keeps the subcommand name
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(_board("1280x720", ["9:16", "1080x1920"])))
    args = ["plan", str(path), "--providers", "local"]
    done = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "variant 9:16 -> OUT.9x16.mp4 (404x720): every shot (1) reframed" in done.output
    assert "variant 1080x1920 -> OUT.1080x1920.mp4 (1080x1920)" in done.output
    done = CliRunner().invoke(app, [*args, "--json"])
    variants = json.loads(done.stdout)["variants"]
    assert [(v["file"], v["shots"], v["extra_provider_usd"]) for v in variants] == [
        ("OUT.9x16.mp4", {"a": "reframe"}, 0.0),
        ("OUT.1080x1920.mp4", {"a": "reframe"}, 0.0),
    ]
