"""The emulated judge answers from the clip it receives: through the real judge clients and the
gate, a clean clip passes and a black one is rejected by the judge's own score; ``shotline check
--judge`` shows its score beside the local one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from adapters.judges import GeminiJudge, OpenAICompatibleJudge
from emulators import EmulatorHandle, start_emulator
from emulators.routes._judge_view import view
from quality import scoring
from quality.gate import evaluate
from quality.policy import GatePolicy, TierPolicy, default_policy
from quality.scoring import JudgeScorer
from shotline.commands import check
from tests.quality.conftest import CLIPS

EXPECT = replace(CLIPS["clean"].expect, prompt="a test pattern")
TONE = ("-f", "lavfi", "-i", "sine=f=440:sample_rate=48000:d=2")


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator() as handle:
        yield handle


@pytest.fixture(scope="module")
def judge_only() -> GatePolicy:
    """A tier whose cheap checks only inform: whatever the verdict is, the judge decided it."""
    policy = default_policy()
    quiet = dict.fromkeys(set(policy.actions) - {"low_score"}, "info")
    tier = TierPolicy(judge=True, min_score=0.0, judge_min_score=0.5, severity=quiet)
    return policy.model_copy(update={"tiers": {**policy.tiers, "judge_only": tier}})


@pytest.fixture(scope="module")
def black_clip(make_clip: Callable[..., Path]) -> Path:
    return make_clip("all_black", "-f", "lavfi", "-i", "color=c=black:s=320x180:r=24:d=2", *TONE)


def _gemini(emulator: EmulatorHandle) -> JudgeScorer:
    return JudgeScorer(GeminiJudge("emulated-key", base_url=emulator.judge_base_urls["gemini"]))


def test_the_judge_passes_a_clean_clip_and_rejects_a_black_one(
    emulator: EmulatorHandle,
    judge_only: GatePolicy,
    corpus_clip: Callable[[str], Path],
    black_clip: Path,
) -> None:
    expect = replace(EXPECT, tier="judge_only")
    clean = evaluate(corpus_clip("clean"), expect, policy=judge_only, scorer=_gemini(emulator))
    black = evaluate(black_clip, expect, policy=judge_only, scorer=_gemini(emulator))
    assert clean.action == "accept"
    assert clean.scores["judge"] > 0.9
    assert black.action == "escalate"
    assert [f.code for f in black.drivers] == ["low_score"]
    assert black.scores["judge"] < 0.3
    assert black.drivers[0].message == f"judge score {black.scores['judge']:.2f} under 0.50"
    assert any(f.code == "judge_issue" and "black frame" in f.message for f in black.findings)


def test_the_openai_shaped_judge_sees_frozen_and_blank_frames(
    emulator: EmulatorHandle, make_clip: Callable[..., Path]
) -> None:
    half = make_clip(
        "half_black",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x180:r=24:d=4",
        *TONE[:-1],
        "sine=f=440:sample_rate=48000:d=4",
        "-vf",
        "drawbox=color=black:t=fill:enable='gte(t,2)'",
    )
    client = OpenAICompatibleJudge(
        "emulated-key", "gpt-judge", base_url=emulator.judge_base_urls["openai"]
    )
    policy = default_policy()
    tier = TierPolicy(
        judge=True, severity=dict.fromkeys(set(policy.actions) - {"low_score"}, "info")
    )
    judged = policy.model_copy(update={"tiers": {**policy.tiers, "standard": tier}})
    expect = replace(EXPECT, duration_s=4.0, duration_grid=None)
    verdict = evaluate(half, expect, policy=judged, scorer=JudgeScorer(client))
    scores = {k: v for k, v in verdict.scores.items() if k.startswith("judge_")}
    # stills at 0, 1, 2, 3 s and the last frame; black from 2 s: content in 2 of 5, and 2 of the
    # 4 consecutive pairs identical (black after black)
    assert scores["judge_visual_quality"] == pytest.approx(0.15 + 0.8 * 2 / 5, abs=0.01)
    assert scores["judge_temporal_coherence"] == pytest.approx(0.15 + 0.8 * 2 / 4, abs=0.01)
    assert 0.4 < verdict.scores["judge"] < 0.6


def test_a_request_without_frames_scores_low() -> None:
    scores, issues = view([])
    assert max(scores.values()) == 0.1
    assert issues[0]["description"] == "no frames to judge"


def test_check_with_the_judge_shows_both_scores_side_by_side(
    emulator: EmulatorHandle, corpus_clip: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoring, "judge_from_settings", lambda settings: _gemini(emulator))
    app = typer.Typer()
    check.register(app)
    app.command()(lambda: None)
    clip = str(corpus_clip("clean"))
    shown = CliRunner().invoke(app, ["check", clip, "--judge", "--prompt", "a test pattern"])
    assert shown.exit_code == 0, shown.output
    assert "(local 0.9" in shown.stdout
    assert ", judge 0.9" in shown.stdout
    result = CliRunner().invoke(app, ["check", clip, "--judge", "--json"])
    payload = json.loads(result.stdout)
    assert payload["judge_score"] > 0.9
    assert payload["local_score"] > 0.9
    blend = 0.6 * payload["judge_score"] + 0.4 * payload["local_score"]
    assert payload["score"] == pytest.approx(blend, abs=1e-3)


def test_check_with_the_judge_and_no_key_exits_two(
    corpus_clip: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoring, "judge_from_settings", lambda settings: None)
    app = typer.Typer()
    check.register(app)
    app.command()(lambda: None)
    result = CliRunner().invoke(app, ["check", str(corpus_clip("clean")), "--judge"])
    assert result.exit_code == 2
    assert "no judge is configured" in result.output
