"""``shotline plan`` lists the variants and how each shot gets them."""

from __future__ import annotations

import json
from typing import Any

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


def _plan(tmp_path, variants, *extra: str, pin: str | None = None):
    app = typer.Typer()
    plan.register(app)
    app.command("unused")(lambda: None)
    data = _board("320x180", variants) | {"mode": "final"}
    if pin:
        data["scenes"][0]["shots"][0]["model"] = pin
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(data))
    args = ["plan", str(path), "--providers", "emulated", *extra]
    return CliRunner().invoke(app, args, env={"COLUMNS": "200"})


def test_plan_shows_each_native_render_with_its_cost_and_reason(tmp_path):
    variants = [{"aspect": "9:16", "render": "auto"}, {"aspect": "1:1", "render": "auto"}]
    done = _plan(tmp_path, variants, "--json")
    assert done.exit_code == 0, done.output
    tall, square = json.loads(done.stdout)["variants"]
    [choice] = tall["choices"]
    width, height = map(int, choice["size"].split("x"))
    assert choice["render"] == "native"
    assert width * 16 == height * 9
    assert tall["extra_provider_usd"] == choice["extra_usd"] > 0
    assert square["shots"] == {"a": "reframe"}
    assert square["extra_provider_usd"] == 0
    done = _plan(tmp_path, variants)
    text = " ".join(done.output.split())
    assert f"a: native +${choice['extra_usd']:.2f} (the crop would keep 31%" in text
    assert "a: reframe $0 (the crop keeps 56% of the picture" in text


def test_plan_refuses_a_native_variant_no_model_of_the_chain_renders(tmp_path):
    done = _plan(tmp_path, [{"aspect": "1:1", "render": "native"}], pin="runway/gen4.5")
    assert done.exit_code == 2, done.output
    assert "output.variants[0]" in done.output
    assert "no model of shot a's chain renders 1:1" in " ".join(done.output.split())


def test_plan_prints_a_negative_headroom_with_its_sign_before_the_dollar(tmp_path):
    """``budget $0.50: headroom -$1.70 expected``, as every other amount is written, not ``$-1.70``."""
    from typer.testing import CliRunner

    from shotline.cli import app

    board = tmp_path / "poor.yaml"
    board.write_text(
        "title: poor\nbudget_usd: 0.05\noutput: {size: 320x180}\n"
        "scenes: [{id: s, shots: [{id: a, prompt: a calm sea, duration: 4}]}]\n"
    )
    done = CliRunner().invoke(app, ["plan", str(board), "--providers", "emulated"])
    assert done.exit_code == 3, done.output  # what ``render`` exits with, refusing before spending
    assert "budget $0.05: headroom -$" in done.output
    assert "$-" not in done.output
    assert "over the budget of $0.05" in " ".join(done.output.split())


def test_plan_exits_as_render_would_on_the_budget(tmp_path):
    """Under the cheapest routing's cost ``plan`` exits 3 with the refusal ``render`` gives (in
    ``--json`` too, as ``budget_refused``); between it and the expected cost (retakes included)
    the job would run: a negative expected headroom, exit 0."""

    from typer.testing import CliRunner

    from shotline.cli import app

    def plan(budget: float) -> tuple[int, dict[str, Any]]:
        board = tmp_path / f"board-{budget}.yaml"
        board.write_text(
            f"title: budgets\nbudget_usd: {budget}\noutput: {{size: 320x180}}\n"
            "scenes: [{id: s, shots: [{id: a, prompt: a calm sea, duration: 4},"
            " {id: b, prompt: a dark forest, duration: 4}]}]\n"
        )
        done = CliRunner().invoke(app, ["plan", str(board), "--providers", "emulated", "--json"])
        return done.exit_code, json.loads(done.stdout)

    code, rich = plan(1000.0)
    assert (code, rich["budget_refused"]) == (0, None)
    low, expected = rich["forecast"]["cost_low_usd"], rich["forecast"]["cost_expected_usd"]
    assert low < expected, rich["forecast"]
    code, tight = plan(round((low + expected) / 2, 4))
    assert (code, tight["budget_refused"]) == (0, None)
    assert tight["forecast"]["headroom_usd"] < 0
    code, poor = plan(round(low / 2, 4))
    assert code == 3
    assert "over the budget" in poor["budget_refused"]
