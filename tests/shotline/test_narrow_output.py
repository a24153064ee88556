"""Output at 80 columns (a narrow terminal, and what piped output gets): money cells whole, the
messages a render exists to show whole, the catalog readable; ``--wide`` shows everything."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from foundation.settings import get_settings
from foundation.storyboard import parse_storyboard
from ledger.aggregates import CostGroup
from pipeline.context import RunContext
from pipeline.events import PipelineEvent
from shotline.commands import costs, models
from shotline.commands.costs import costs_table
from shotline.console import report_table
from shotline.notes import local_pin_note
from shotline.progress import JobProgress
from shotline.tables import Column, fit_table

MONEY = re.compile(r"\$\d+\.\d+")
HISTORY = {
    "s1-harbour": ["google/veo-3.1-lite: rate_limited"],
    "s1-detective": ["google/veo-3.1-lite: safety_refusal"],
    "s2-device": ["runway/gen4.5: retry (black_middle)"],
}


def printed(renderable: object, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]


def demo_report() -> dict[str, Any]:
    shots = []
    for key, model, cost in [
        ("s1-harbour", "google/veo-3.1-lite", 0.2),
        ("s1-detective", "kling/v3-std", 0.38),
        ("s1-chase", "luma/ray-flash-2", 0.24),
        ("s2-device", "runway/gen4.5", 0.72),
    ]:
        history = HISTORY.get(key, [])
        shots.append(
            {
                "id": key,
                "model": model,
                "attempts": len(history) + 1,
                "verdict": "accept",
                "seconds": 2.5,
                "cost_usd": cost,
                "history": history,
            }
        )
    return {
        "title": "Neon Harbour - teaser",
        "status": "delivered",
        "output": "/x/teaser.mp4",
        "emulated": True,
        "cost_usd": 1.54,
        "settled_usd": 1.54,
        "shots": shots,
    }


@pytest.mark.parametrize("width", [80, 100, 160])
def test_closing_table_keeps_every_reason_and_amount_whole(width):
    text = printed(report_table(demo_report(), width), width)
    assert all(len(line) <= width for line in text.splitlines())
    assert "…" not in text
    for reason in ("rate_limited", "safety_refusal", "(black_middle)", "runway/gen4.5: retry"):
        assert reason in text, f"{reason!r} cut at {width} columns:\n{text}"
    assert {"$0.20", "$0.38", "$0.24", "$0.72", "$1.54"} <= set(MONEY.findall(text))
    assert "google/veo-3.1-lite " in text  # model ids whole too


def cost_data(by: str, keys: list[str]) -> dict[str, Any]:
    groups = [
        CostGroup(
            key=key,
            attempts=12,
            finished=12,
            accepted=9,
            rejected=2,
            failed=1,
            refused=1,
            fallbacks=3,
            drift_flagged=0,
            spend_usd=Decimal("12.3456") * (i + 1),
            waste_usd=Decimal("1.96"),
            seconds_requested=48.0,
            seconds_accepted=36.0,
            render_p50_s=31.2,
            render_p95_s=88.4,
            refunded_usd=Decimal("0.4"),
            uncertain=1,
            uncertain_usd=Decimal("0.12"),
        ).to_dict()
        for i, key in enumerate(keys)
    ]
    preview = {
        "previews": 2,
        "conversion_rate": 0.5,
        "cost_avoided_usd": 3.1,
        "declined_shots": 1,
        "agreement_rate": None,
    }
    nothing_emulated = {"totals": {"attempts": 0}, "groups": [], "preview": preview}
    return {
        "group_by": by,
        "totals": groups[-1] | {"key": "all"},
        "groups": groups,
        "preview": preview,
        "emulated_usd": 0.0,
        "emulated": nothing_emulated,
    }


@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize(
    ("by", "keys"),
    [("model", ["replicate/veo-3.1-fast", "runway/gen4.5"]), ("job", ["0f" * 16, "1e" * 16])],
)
def test_costs_never_cut_a_money_cell(width, by, keys):
    fitted = costs_table(cost_data(by, keys), width)
    text = printed(fitted.table, width)
    assert all(len(line) <= width for line in table_lines(text))
    assert "…" not in text
    assert "$12.3456" in text
    assert "$24.6912" in text
    assert all(key in text for key in keys)  # the group key is whole as well
    for line in (line for line in text.splitlines() if line.startswith("│")):
        for cell in line.strip("│").split("│"):
            if "$" in cell:
                assert re.fullmatch(r"\s*\$\d+\.\d{4}\s*", cell), cell
    if width >= 120:
        assert "waste" in text
    wide = printed(costs_table(cost_data(by, keys)).table, 400)
    for title in ("refunded", "uncertain", "fallbacks", "p50 s", "p95 s", "attempts"):
        assert title in wide


def cli(*args: str, width: int = 80):
    app = typer.Typer()
    costs.register(app)
    models.register(app)
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(width)})


def test_costs_command_at_80_columns():
    done = cli("costs", "--by", "job")
    assert done.exit_code == 0, done.output
    assert "…" not in done.stdout
    assert all(len(line) <= 80 for line in table_lines(done.stdout))
    wide = cli("costs", "--wide")
    assert "uncertain" in wide.stdout


def test_models_fit_80_columns_and_wide_shows_all():
    done = cli("models")
    assert done.exit_code == 0, done.output
    rows = table_lines(done.stdout)
    assert all(len(line) <= 80 for line in rows)
    models = int(re.search(r"\((\d+) models", done.stdout).group(1))  # type: ignore[union-attr]
    # a row folds onto a second or third line at most (235 lines of 4-character columns, once)
    assert len(done.stdout.splitlines()) < 2 * models + 10
    for text in ("google/veo-3.1-fast", "replicate/veo-3.1-fast", "12 cr/s ($0.12/s)", "retired"):
        assert text in done.stdout
    assert "not shown at 80 columns: vendor model" in done.stdout
    wide = cli("models", "--wide")
    assert wide.exit_code == 0, wide.output
    for text in ("vendor model", "veo-3.1-fast-generate-001", "10 at once, 10/min"):
        assert text in wide.stdout


def test_fit_table_folds_text_and_leaves_out_low_columns():
    columns = (
        Column("id"),
        Column("note", fold_to=10),
        Column("extra", priority=5),
        Column("cost", justify="right"),
    )
    rows = [["abcdef", "a long message that has to fold somewhere", "x" * 30, "$1234.5678"]]
    narrow = fit_table(columns, rows, 40)
    assert narrow.left_out == ("extra",)
    text = printed(narrow.table, 40)
    assert all(len(line) <= 40 for line in text.splitlines())
    assert "$1234.5678" in text
    assert "message" in text
    assert fit_table(columns, rows, 200).left_out == ()


def test_progress_shows_stage_reason_time_and_cost():
    progress = JobProgress("j" * 32, ["s1-detective", "s2-device"], Console(width=80))
    for kind, shot, data in [
        (
            "attempt.failed",
            "s1-detective",
            {"model": "google/veo-3.1-lite", "attempt": 1, "error_kind": "safety_refusal"},
        ),
        (
            "attempt.fetched",
            "s2-device",
            {"model": "runway/gen4.5", "attempt": 1, "cost_usd": 0.36},
        ),
        ("attempt.gated", "s2-device", {"model": "runway/gen4.5", "attempt": 1, "action": "retry"}),
        ("job.stitching", None, {}),
    ]:
        progress.on_event(PipelineEvent("j" * 32, kind, shot, data))
    progress.on_event(PipelineEvent("other", "attempt.fetched", "s2-device", {"cost_usd": 9.0}))
    text = printed(progress, 80)
    assert all(len(line) <= 80 for line in text.splitlines())
    for part in ("safety_refusal", "retry", "$0.36", "google/veo-3.1-lite", "0s"):
        assert part in text
    assert "stitching" in text
    assert "$0.36 so far" in text


def test_progress_clock_runs_past_a_failed_attempt(monkeypatch):
    """The time froze at a shot's first failed attempt (``failed`` ended the row)."""
    clock = iter([0.0, 0.0, 5.0, 9.0, 12.0, 20.0])
    monkeypatch.setattr("shotline.progress.time.monotonic", lambda: next(clock))
    progress = JobProgress("j" * 32, ["a"], Console(width=100))  # started at 0
    for kind in ("attempt.failed", "attempt.reserved"):  # at 0 and 5
        progress.on_event(PipelineEvent("j" * 32, kind, "a", {"attempt": 1, "model": "m/x"}))
    assert "9s" in printed(progress, 100)
    progress.on_event(PipelineEvent("j" * 32, "shot.failed", "a", {}))  # the shot ends at 12
    assert "12s" in printed(progress, 100)


def test_progress_costs_come_from_the_ledger():
    """The caption said "$0.40 so far" where the job had spent $0.52: only the fetched videos
    this process saw were added up (no voice, keyframe, sheet or bed; nothing before a resume)."""
    ledger = {"a": 0.4, "a.part2": 0.1, "(music)": 0.02}
    progress = JobProgress("j" * 32, ["a", "a.part2"], Console(width=100), lambda: ledger)
    progress.on_event(PipelineEvent("j" * 32, "attempt.fetched", "a", {"cost_usd": 0.3}))
    text = printed(progress, 100)
    assert "$0.52 so far" in text
    assert "(music)" in text
    assert "$0.10" in text


PINNED = {
    "title": "pins",
    "output": {"size": "160x90"},
    "scenes": [
        {
            "id": "s",
            "shots": [
                {"id": "a", "prompt": "a lighthouse", "duration": 2},
                {"id": "b", "prompt": "a tram", "duration": 5, "model": "luma/ray-flash-2"},
            ],
        }
    ],
}


def test_the_note_for_pins_a_local_only_run_ignores(monkeypatch):
    board = parse_storyboard(PINNED)
    settings = get_settings()
    auto = local_pin_note(RunContext.create("auto", settings), board, board.mode)
    assert auto is not None
    assert "no hosted provider key is set, so --providers auto renders every shot locally" in auto
    assert "pins ignored: b (luma/ray-flash-2)" in auto
    assert "Set SHOTLINE_LUMA_API_KEY" in auto
    local = local_pin_note(RunContext.create("local", settings), board, board.mode)
    assert local is not None
    assert "--providers local" in local
    assert local_pin_note(RunContext.create("emulated", settings), board, board.mode) is None
    monkeypatch.setenv("SHOTLINE_LUMA_API_KEY", "k")
    get_settings.cache_clear()
    keyed = RunContext.create("auto", get_settings())
    assert local_pin_note(keyed, board, board.mode) is None


def test_progress_shows_the_jobs_music_stage_on_a_row_of_its_own():
    progress = JobProgress("j" * 32, ["a"], Console(width=100))
    data = {"attempt": -1_000_000, "stage": "music", "model": "elevenlabs/music-v1"}
    progress.on_event(PipelineEvent("j" * 32, "attempt.reserved", "a", data))
    assert progress.shots["a"] == {"status": "planned"}  # not the first shot's row
    assert progress.shots["(music)"]["status"] == "music reserved"
    assert "(music)" in printed(progress, 100)


def _try_cell(text: str, key: str) -> str:
    """The ``try`` cell of ``key``'s row in a printed progress table."""
    row = next(line for line in table_lines(text) if line.startswith(f"│ {key} "))
    return row.split("│")[4].strip()


def test_progress_counts_a_stages_tries_from_one():
    """A stage's attempts are numbered below zero (tts and keyframes from -1, the music bed from
    -1,000,000), which the ``try`` column must not show: it counts each stage's tries from 1."""
    progress = JobProgress("j" * 32, ["line"], Console(width=100))
    for kind, shot, number, stage in [
        ("attempt.reserved", "a", -1_000_000, "music"),
        ("attempt.failed", "a", -1_000_000, "music"),
        ("attempt.reserved", "a", -1_000_001, "music"),
        ("attempt.reserved", "line", -1, "tts"),
        ("attempt.gated", "line", -1, "tts"),
        ("attempt.reserved", "line", -2, "keyframe"),
    ]:
        data = {"attempt": number, "stage": stage, "model": "m/x"}
        progress.on_event(PipelineEvent("j" * 32, kind, shot, data))
    text = printed(progress, 100)
    assert _try_cell(text, "(music)") == "2"
    assert _try_cell(text, "line") == "1"  # its keyframe's first try
    progress.on_event(PipelineEvent("j" * 32, "attempt.reserved", "line", {"attempt": 2}))
    text = printed(progress, 100)
    assert _try_cell(text, "line") == "2"  # the video's second attempt, as numbered
    assert "-1" not in text


@pytest.mark.parametrize("width", [46, 50, 56])
def test_under_60_columns_text_folds_further_and_money_stays_whole(width):
    """``jobs show`` at 50 columns: the columns always shown (shot, status, model folded to 14,
    cost) did not fit, and the right side, costs included, was cut off. Folding text now gives
    way first (``tables.NARROWEST_FOLD``)."""
    from shotline.commands.jobs import SHOT_COLUMNS
    from shotline.tables import fit_table

    rows = [
        [key, "normalised", "1", model, "1", cost, ""]
        for key, model, cost in [
            ("s1-detective", "google/veo-3.1-lite", "$0.20"),
            ("s2-rooftop", "runway/gen4.5", "$0.36"),
        ]
    ]
    text = printed(fit_table(SHOT_COLUMNS, rows, width, title="shots").table, width)
    assert all(len(line) <= width for line in table_lines(text)), text
    assert {"$0.20", "$0.36"} <= set(MONEY.findall(text)), text
    assert "s1-detective" in text
    assert "s2-rooftop" in text
