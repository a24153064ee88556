"""A shot's video stage goes to video models only; other kinds go through ``route_stage``."""

from __future__ import annotations

from dataclasses import replace

import pytest

import router
from registry import ModelKind, Registry
from tests.router.conftest import ALL, TODAY, board, plan_for, shot, single


def _with_fake_cheap_kinds(registry: Registry) -> Registry:
    """Copies of the cheapest video model, free and able to take anything, labelled llm and
    image: were kind ignored, they would win every shot."""
    base = registry.get("local/animatic")
    fakes = [
        replace(base, id=f"local/fake-{kind}", kind=kind, enabled=True)
        for kind in (ModelKind.LLM, ModelKind.IMAGE)
    ]
    return Registry(
        [*registry.models, *fakes],
        registry.fallback_chains,
        registry.sources,
        registry.provider_specs,
    )


def test_no_shot_is_routed_to_a_non_video_model(registry):
    reg = _with_fake_cheap_kinds(registry)
    b = board([shot(), shot("a product on a table", 6)], [shot("two people talk", 5)])
    for providers in ({"local"}, ALL):
        result = plan_for(b, reg, providers=providers)
        for decision in result.decisions.values():
            ids = [c.model_id for c in decision.candidates]
            assert ids, decision.rejected
            kinds = {reg.get(model_id).kind for model_id in ids}
            assert kinds == {ModelKind.VIDEO}, ids
            assert not any(model_id.startswith("local/fake-") for model_id in decision.rejected)


def test_a_shot_pinned_to_an_llm_is_refused_with_the_reason(registry):
    decision = single(registry, model="openai/gpt-4.1-mini")
    assert decision.candidates == [] or all(
        registry.get(c.model_id).kind is ModelKind.VIDEO for c in decision.candidates
    )
    assert "llm model, not a video model" in " ".join(decision.rejected["openai/gpt-4.1-mini"])


def test_stage_routing_filters_by_kind_and_ranks_by_estimated_cost(registry):
    usage = {"input_tokens": 3000, "output_tokens": 2000}
    decision = router.route_stage(
        registry, ModelKind.LLM, {"openai", "gemini"}, usage=usage, today=TODAY
    )
    ids = [c.model_id for c in decision.chain]
    assert ids == ["openai/gpt-4.1-mini", "openai/gpt-5-mini", "gemini/gemini-3.5-flash-lite"]
    estimates = [c.estimate_usd for c in decision.chain]
    assert estimates == sorted(estimates)
    assert all(registry.get(i).kind is ModelKind.LLM for i in ids)


def test_stage_routing_puts_open_breakers_last_and_explains_rejections(registry):
    class Health:
        def state(self, model_id: str) -> router.BreakerState:
            if model_id == "openai/gpt-4.1-mini":
                return router.BreakerState.OPEN
            return router.BreakerState.CLOSED

    decision = router.route_stage(
        registry,
        ModelKind.LLM,
        {"openai"},
        usage={"input_tokens": 1000, "output_tokens": 1000},
        health=Health(),
        today=TODAY,
    )
    chain = [c.model_id for c in decision.chain]
    assert chain == ["openai/gpt-5-mini", "openai/gpt-5.4-mini", "openai/gpt-4.1-mini"]
    assert decision.rejected["gemini/gemini-3.5-flash-lite"] == ["provider gemini is not enabled"]


@pytest.mark.parametrize("kind", [ModelKind.IMAGE, ModelKind.TTS, ModelKind.MUSIC])
def test_unverified_models_are_left_out_unless_allowed(registry, kind):
    usage = {"images": 1} if kind is ModelKind.IMAGE else {}
    providers = {m.provider for m in registry.models}
    strict = router.route_stage(registry, kind, providers, usage=usage, today=TODAY)
    loose = router.route_stage(
        registry, kind, providers, usage=usage, today=TODAY, allow_unverified=True
    )
    unverified = {m.id for m in registry.of_kind(kind, TODAY) if m.lifecycle.unverified}
    assert not unverified & {c.model_id for c in strict.chain}
    assert {c.model_id for c in loose.chain} | set(loose.rejected) >= unverified
