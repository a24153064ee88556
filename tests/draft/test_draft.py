"""Brief to storyboard: routing an llm model, the repair rounds, the fallback chain, the cost."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.chat import ChatClient, ChatPort
from adapters.gemini_chat import GeminiChatClient
from foundation.storyboard import parse_storyboard
from pipeline.draft import DraftBrief, DraftError, board_data, draft_storyboard
from registry import load_registry

TODAY = date(2026, 12, 4)
BRIEF = DraftBrief("a fox crosses a frozen lake at dawn", shots=3, duration_s=4, style="pastel")


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def clients(emulator, *providers: str) -> dict[str, ChatPort]:
    urls = emulator.judge_base_urls
    made: dict[str, ChatPort] = {
        "openai": ChatClient("openai", "k", urls["openai"]),
        "gemini": GeminiChatClient("k", urls["gemini"]),
    }
    return {p: made[p] for p in providers or made}


def test_the_cheapest_llm_drafts_a_board_that_follows_the_brief(emulator, registry):
    result = draft_storyboard(BRIEF, registry, clients(emulator), today=TODAY)
    assert result.board is not None
    assert result.model_id == "openai/gpt-4.1-mini"  # cheapest for the expected usage
    assert [shot.duration for _, shot in result.board.shots()] == [4, 4, 4]
    assert "pastel" in result.board.shots()[0][1].prompt
    assert len(result.rounds) == 1
    spec = registry.get("openai/gpt-4.1-mini")
    first = result.rounds[0]
    expected = spec.usage_price.cost(
        {"input_tokens": first.input_tokens, "output_tokens": first.output_tokens}, on=TODAY
    )
    assert result.cost_usd == pytest.approx(expected.usd)
    assert result.cost_usd > 0
    written = board_data(result.board)
    assert "output" not in written  # defaults are left out of the file
    assert parse_storyboard(written) == result.board


def test_an_invalid_first_answer_is_repaired_from_its_problems(repairing_emulator, registry):
    result = draft_storyboard(BRIEF, registry, clients(repairing_emulator), today=TODAY)
    assert result.board is not None
    assert len(result.rounds) == 2
    paths = {p.path for p in result.rounds[0].problems}
    assert "scenes[0].shots[0].duration" in paths
    assert "scenes[0].shots[0].camera" in paths
    assert result.rounds[1].problems == ()
    assert result.cost_usd == pytest.approx(sum(r.usd for r in result.rounds))
    # the repair round resent the conversation, so it read more tokens than the first
    assert result.rounds[1].input_tokens > result.rounds[0].input_tokens


def test_at_most_two_repair_rounds_then_the_problems(emulator, registry):
    only_gpt5 = {"openai": clients(emulator)["openai"]}
    with pytest.raises(DraftError) as info:
        draft_storyboard(
            BRIEF,
            registry,
            only_gpt5,
            today=TODAY,
            validate=None,
            providers={"openai"},
            health=_OpenExcept("openai/gpt-5-mini"),
        )
    result = info.value.result
    assert [r.model_id for r in result.rounds] == ["openai/gpt-5-mini"] * 3
    assert any("duration" in p.path for p in info.value.problems)
    assert result.cost_usd > 0  # the failed answers were paid for


def test_a_provider_failure_falls_back_to_the_next_model(emulator, registry):
    broken = ChatClient("openai", "k", "http://127.0.0.1:9/v1", timeout_s=2)
    chat = {"openai": broken, "gemini": clients(emulator)["gemini"]}
    result = draft_storyboard(BRIEF, registry, chat, today=TODAY)
    assert result.board is not None
    assert result.rounds[0].error is not None
    assert result.model_id == "gemini/gemini-3.5-flash-lite"


def test_no_llm_provider_is_a_clear_refusal(registry):
    with pytest.raises(DraftError) as info:
        draft_storyboard(BRIEF, registry, {}, today=TODAY)
    assert info.value.problems[0].path == "model"
    assert info.value.result.rounds == []


class _OpenExcept:
    """Every breaker open except one model's: that model is routed first."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def state(self, model_id: str):
        from router import BreakerState

        return BreakerState.CLOSED if model_id == self.model_id else BreakerState.OPEN


def test_drafts_name_no_files():
    """A brief supplies no files: the schema a model is given has no field naming one, and a path
    a model writes anyway is not written (``plan`` would refuse the draft for a missing file)."""
    from foundation.storyboard import parse_storyboard
    from pipeline.draft import storyboard_schema

    schema = storyboard_schema()
    assert "music" not in schema["properties"]
    assert "reference_image" not in schema["$defs"]["Shot"]["properties"]
    assert "reference_images" not in schema["$defs"]["Character"]["properties"]
    invented = parse_storyboard(
        {
            "title": "t",
            "music": {"file": "bed.wav"},
            "characters": [{"id": "mara", "description": "d", "reference_images": ["m.png"]}],
            "scenes": [{"id": "s", "shots": [
                {"id": "a", "prompt": "p", "duration": 4, "reference_image": "a.png",
                 "characters": ["mara"]},
            ]}],
        }
    )  # fmt: skip
    written = board_data(invented)
    assert "music" not in written
    assert "reference_images" not in written["characters"][0]
    assert "reference_image" not in written["scenes"][0]["shots"][0]
    assert written["scenes"][0]["shots"][0]["prompt"] == "p"
