"""evaluate() end to end: verdict payload, and the judge cascade (runs only after cheap checks)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from adapters.errors import ProviderFailureError, RateLimitedError
from adapters.judges import (
    GeminiJudge,
    JudgeIssue,
    JudgeRequest,
    JudgeResult,
    OpenAICompatibleJudge,
)
from foundation import clock
from foundation.settings import Settings
from quality.gate import evaluate
from quality.openai_judge import DatedOpenAIJudge, openai_judge_model
from quality.scoring import JudgeScorer, TechnicalScorer, judge_from_settings
from registry import Registry, load_registry
from tests.quality.conftest import CLIPS

# testsrc2 draws a running clock: the prompt asks for it, so the on-screen text check passes
PROMPT = 'a test pattern whose clock reads "00:00:00"'
EXPECT = replace(CLIPS["clean"].expect, prompt=PROMPT)


@dataclass
class FakeJudge:
    overall: float = 0.9
    fail: bool = False
    name: str = "fake"
    calls: list[JudgeRequest] = field(default_factory=list)

    def judge(self, request: JudgeRequest) -> JudgeResult:
        self.calls.append(request)
        if self.fail:
            raise RateLimitedError("quota", self.name, retry_after=30)
        scores = {
            k: self.overall
            for k in ("prompt_adherence", "visual_quality", "temporal_coherence", "anatomy")
        }
        issue = JudgeIssue(0.5, 0.9, "anatomy", "minor", "odd shape")
        return JudgeResult(self.name, "fake-1", scores, (issue,), 100, 10, 0.0012)


def test_clean_clip_accepts_with_full_score(corpus_clip: Callable[[str], Path]) -> None:
    verdict = evaluate(corpus_clip("clean"), EXPECT)
    assert verdict.action == "accept"
    assert verdict.scores["technical"] == 1.0
    assert verdict.score == verdict.local_score == verdict.scores["local"] > 0.85
    payload = json.loads(json.dumps(verdict.to_dict()))
    assert payload["local_score"] == pytest.approx(verdict.score, abs=1e-4)
    assert payload["judge_score"] is None
    assert payload["metrics"]["niqe"] > 0
    assert payload["metrics"]["frames"] == 48
    assert payload["metrics"]["loudness_lufs"] < -10


def test_repair_verdict_lists_drivers_and_keep_range(corpus_clip: Callable[[str], Path]) -> None:
    verdict = evaluate(corpus_clip("black_head_0.5"), EXPECT)
    assert verdict.action == "repair"
    assert verdict.repair == pytest.approx((0.5, 2.0))
    assert [f.code for f in verdict.drivers] == ["black_head"]
    assert verdict.ok
    assert 0 < verdict.score < 1


def test_judge_runs_on_clean_clip_and_costs_are_reported(
    corpus_clip: Callable[[str], Path],
) -> None:
    judge = FakeJudge(overall=0.8)
    verdict = evaluate(corpus_clip("clean"), EXPECT, scorer=JudgeScorer(judge, max_frames=3))
    assert verdict.action == "accept"
    assert verdict.judge_cost_usd == pytest.approx(0.0012)
    assert len(judge.calls[0].frames) == 3
    assert judge.calls[0].frames[0].jpeg[:2] == b"\xff\xd8"
    assert judge.calls[0].prompt == PROMPT
    assert verdict.scores["judge"] == pytest.approx(0.8)
    local = verdict.scores["local"]
    assert local > 0.85
    assert verdict.score == pytest.approx(0.6 * 0.8 + 0.4 * local)
    payload = verdict.to_dict()  # the judge's score and the local one, side by side
    assert (payload["judge_score"], payload["local_score"]) == (0.8, round(local, 4))
    assert any(f.code == "judge_issue" and f.start == 0.5 for f in verdict.findings)


def test_judge_skipped_when_cheap_checks_fail(corpus_clip: Callable[[str], Path]) -> None:
    judge = FakeJudge()
    verdict = evaluate(corpus_clip("black_middle_0.5"), EXPECT, scorer=JudgeScorer(judge))
    assert judge.calls == []
    assert verdict.action == "retry"
    assert any("judge skipped" in n for n in verdict.notes)


def test_low_judge_score_escalates(corpus_clip: Callable[[str], Path]) -> None:
    verdict = evaluate(corpus_clip("clean"), EXPECT, scorer=JudgeScorer(FakeJudge(overall=0.2)))
    assert verdict.action == "escalate"
    assert {f.code for f in verdict.drivers} == {"low_score"}
    assert any("judge score 0.20" in f.message for f in verdict.drivers)


def test_unavailable_judge_degrades_to_local_score(corpus_clip: Callable[[str], Path]) -> None:
    verdict = evaluate(corpus_clip("clean"), EXPECT, scorer=JudgeScorer(FakeJudge(fail=True)))
    assert verdict.action == "accept"
    assert verdict.score == verdict.scores["local"] > 0.85
    assert verdict.judge_score is None
    assert verdict.judge_cost_usd == 0.0
    assert any("unavailable" in n and "rate_limited" in n for n in verdict.notes)


def test_draft_tier_does_not_call_the_judge(corpus_clip: Callable[[str], Path]) -> None:
    judge = FakeJudge()
    evaluate(corpus_clip("clean"), replace(EXPECT, tier="draft"), scorer=JudgeScorer(judge))
    assert judge.calls == []


def test_technical_scorer_as_explicit_scorer(corpus_clip: Callable[[str], Path]) -> None:
    verdict = evaluate(corpus_clip("flicker"), EXPECT, scorer=TechnicalScorer())
    assert verdict.action == "retry"
    assert verdict.score <= 0.5


def test_unknown_tier_noted(corpus_clip: Callable[[str], Path]) -> None:
    verdict = evaluate(corpus_clip("clean"), replace(EXPECT, tier="platinum"))
    assert "unknown tier" in verdict.notes[0]


def test_retry_budget_and_chain_end(corpus_clip: Callable[[str], Path]) -> None:
    path = corpus_clip("freeze_middle_0.75")
    assert evaluate(path, EXPECT, attempt=3).action == "escalate"
    assert evaluate(path, EXPECT, attempt=3, can_escalate=False).action == "give_up"


def test_judge_from_settings_prefers_gemini() -> None:
    both = Settings(gemini_api_key=SecretStr("g"), openai_api_key=SecretStr("o"))
    only_openai = Settings(gemini_api_key=None, openai_api_key=SecretStr("o"))
    neither = Settings(gemini_api_key=None, openai_api_key=None)
    first = judge_from_settings(both)
    second = judge_from_settings(only_openai, base_url="http://127.0.0.1:9/v1")
    assert first is not None
    assert isinstance(first.client, GeminiJudge)
    assert second is not None
    assert isinstance(second.client, DatedOpenAIJudge)
    assert second.client.base_url == "http://127.0.0.1:9/v1"
    assert judge_from_settings(neither) is None


@pytest.mark.parametrize(
    ("today", "model", "prices", "temperature"),
    [
        (date(2026, 12, 7), "gpt-4.1-mini", (0.40, 1.60), 0),
        # openai 3.60.0 chat_model.py: gpt-4.1-mini's announced shutdown; the registry's
        # replacement takes only the default temperature, so none is sent
        (date(2027, 1, 14), "gpt-5.4-mini", (0.75, 4.50), None),
    ],
)
def test_the_openai_judge_moves_to_the_replacement_of_a_retired_model(
    monkeypatch: pytest.MonkeyPatch,
    today: date,
    model: str,
    prices: tuple[float, float],
    temperature: int | None,
) -> None:
    """On the day of each call: a server started before the shutdown moves on that day."""
    scorer = judge_from_settings(Settings(gemini_api_key=None, openai_api_key=SecretStr("o")))
    assert scorer is not None
    dated = scorer.client
    assert isinstance(dated, DatedOpenAIJudge)
    seen: list[OpenAICompatibleJudge] = []
    monkeypatch.setattr(OpenAICompatibleJudge, "judge", lambda self, request: seen.append(self))
    monkeypatch.setattr(clock, "today", lambda: today)
    dated.judge(JudgeRequest("a kite", 2.0, ()))
    [judge] = seen
    assert judge.model == model
    assert (judge.price_in, judge.price_out) == pytest.approx(prices)
    body = judge.body(JudgeRequest("a kite", 2.0, ()))
    assert body.get("temperature") == temperature
    assert ("temperature" in body) is (temperature is not None)


def test_a_judge_model_the_registry_cannot_price_leaves_the_local_score(tmp_path: Path) -> None:
    """A user's registry file replaces lists whole: an override of the judge's model with an
    input price only raised KeyError from the gate of a clip already paid for. The judge is now
    unavailable, naming why, and the local score stands; a replacement chain that loops ends."""
    override = {
        "models": [
            {
                "id": "openai/gpt-4.1-mini",
                "usage_price": {
                    "effective": "2025-04-14",
                    "certainty": "third_party",
                    "source": "an operator's own figure",
                    "rates": [{"meter": "input_tokens", "usd": 0.4, "per": 1000000}],
                },
            }
        ]
    }
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(override))
    registry = load_registry(path)
    settings = Settings(gemini_api_key=None, openai_api_key=SecretStr("o"))
    scorer = judge_from_settings(settings, registry=registry)
    assert scorer is not None
    with pytest.raises(ProviderFailureError, match="has no output_tokens price"):
        scorer.client.judge(JudgeRequest("a kite", 2.0, ()))
    both_retired = {
        "openai/gpt-4.1-mini": "openai/gpt-5.4-mini",
        "openai/gpt-5.4-mini": "openai/gpt-4.1-mini",
    }
    models = [
        replace(m, lifecycle=replace(m.lifecycle, retired_on=date(2027, 1, 1), replacement=to))
        if (to := both_retired.get(m.id))
        else m
        for m in registry.models
    ]
    circular = Registry(models, registry.fallback_chains, registry.sources, registry.provider_specs)
    assert openai_judge_model(circular, date(2027, 2, 1)).id in both_retired
