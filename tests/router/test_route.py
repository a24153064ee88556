"""Scene continuity, fallback chains and explanations (the request every fallback gets is
tested with its one builder, in ``tests/pipeline/test_requests.py``)."""

from __future__ import annotations

import json

import router
from foundation.storyboard import Mode, ShotType
from registry import Tier
from tests.router.conftest import ALL, HOSTED, board, plan_for, policy, shot


class TestContinuity:
    def test_scene_sticks_to_one_model(self, registry):
        b = board([shot("aerial skyline", 4), shot("a ferry passes", 6), shot("market crowd", 8)])
        result = plan_for(b, registry, Mode.FINAL)
        models = {d.primary.model_id for d in result.decisions.values() if d.primary}
        assert len(models) == 1
        assert not any(d.continuity_break for d in result.decisions.values())

    def test_constraint_forces_a_flagged_change(self, registry):
        b = board(
            [shot("aerial skyline", 4), shot("a ferry passes", 6), shot("market crowd", 4)],
            [shot("long take down the pier", 12)],
        )
        pol = policy(Mode.FINAL)
        talk = {"audio": "dialogue", "dialogue": "Over here!"}
        pinned = board(
            [
                shot("aerial skyline", 4, **talk),
                shot("a ferry passes", 6, model="runway/gen4.5"),
                shot("market crowd", 4, **talk),
            ]
        )
        result = plan_for(pinned, registry, Mode.FINAL, policy=pol)
        decisions = list(result.decisions.values())
        scene_model = decisions[0].scene_model
        assert scene_model is not None
        assert scene_model != "runway/gen4.5"
        assert [d.continuity_break for d in decisions] == [False, True, False]
        assert decisions[1].continuity_reason == (
            f"scene model {scene_model} cannot take this shot: the shot pins model runway/gen4.5"
        )
        assert decisions[1].explanation["continuity"]["break"] is True
        assert plan_for(b, registry, Mode.FINAL).decisions["shot4"].continuity_break is False

    def test_scene_model_covers_the_most_shots(self, registry):
        b = board([shot("aerial skyline", 4), shot("long pier walk", 12), shot("crowd", 4)])
        result = plan_for(b, registry, Mode.FINAL)
        primaries = [d.primary.model_id for d in result.decisions.values() if d.primary]
        assert len(set(primaries)) == 1
        assert registry.get(primaries[0]).durations.allows(12)

    def test_continuity_off(self, registry):
        b = board([shot("aerial skyline", 4), shot("long pier walk", 12)])
        result = plan_for(b, registry, Mode.FINAL, policy=policy(Mode.FINAL, continuity=False))
        primaries = [d.primary.model_id for d in result.decisions.values() if d.primary]
        assert primaries[0] != primaries[1]
        assert not any(d.continuity_break for d in result.decisions.values())


class TestFallbacks:
    def test_configured_chain_then_derived(self, registry):
        result = plan_for(board([shot(duration=8)]), registry, Mode.FINAL, ALL)
        decision = result.decisions["shot1"]
        ids = [c.model_id for c in decision.candidates]
        assert decision.candidates[0].score == max(c.score for c in decision.candidates)
        assert registry.get(ids[0]).tier is Tier.PREMIUM
        configured = [m for m in registry.chain(Tier.PREMIUM) if m in ids[1:]]
        assert ids[1 : 1 + len(configured)] == configured
        assert decision.chain_origin[ids[1]] == "configured fallback for tier premium"
        assert len(ids) == 5  # primary + the 4-fallback limit
        assert decision.ranked_out["runway/gen4.5"].endswith("past the 4-fallback limit")

    def test_derived_candidates_follow_score(self, registry):
        result = plan_for(
            board([shot(duration=8)]),
            registry,
            Mode.FINAL,
            ALL,
            policy=policy(Mode.FINAL, max_fallbacks=20),
        )
        decision = result.decisions["shot1"]
        derived = [
            c
            for c in decision.candidates
            if decision.chain_origin[c.model_id].startswith("derived")
        ]
        scores = [c.score for c in derived]
        assert scores == sorted(scores, reverse=True)
        assert len(derived) >= 3

    def test_draft_only_as_last_resort(self, registry):
        decision = plan_for(board([shot(duration=8)]), registry, Mode.PREVIEW, ALL).decisions[
            "shot1"
        ]
        assert "local/animatic" not in [c.model_id for c in decision.candidates]
        assert "draft tier" in decision.ranked_out["local/animatic"]
        long = plan_for(board([shot(duration=60)]), registry, Mode.PREVIEW, ALL).decisions["shot1"]
        assert [c.model_id for c in long.candidates] == ["local/animatic"]


class TestScoring:
    def test_preview_is_cheap_and_final_is_quality(self, registry):
        b = board([shot(duration=8)])
        preview = plan_for(b, registry, Mode.PREVIEW).decisions["shot1"].primary
        final = plan_for(b, registry, Mode.FINAL).decisions["shot1"].primary
        assert preview is not None
        assert final is not None
        assert preview.quote_usd < final.quote_usd
        assert registry.get(final.model_id).tier is Tier.PREMIUM

    def test_budget_pressure_moves_to_cheaper_models(self, registry):
        shots = [shot(duration=8) for _ in range(4)]
        rich = plan_for(board(shots, budget_usd=100), registry, Mode.FINAL)
        poor = plan_for(board(shots, budget_usd=2), registry, Mode.FINAL)
        assert poor.forecast.cost_expected_usd < rich.forecast.cost_expected_usd
        pressured = [
            c
            for d in poor.decisions.values()
            for c in d.candidates
            if "penalty_budget" in c.components
        ]
        assert pressured, "a tight budget penalises the expensive candidates"

    def test_shot_type_is_inferred_from_the_prompt(self):
        cases = {
            "Aerial drone shot over the skyline": ShotType.ESTABLISHING,
            "She says goodbye at the door": ShotType.DIALOGUE,
            "A car chase through the rain": ShotType.ACTION,
            "Packshot of a perfume bottle on a white background": ShotType.PRODUCT,
            "Leaves in the wind": ShotType.BROLL,
        }
        for prompt, expected in cases.items():
            b = board([shot(prompt)])
            assert router.infer_shot_type(b.scenes[0].shots[0]) == (expected, True), prompt
        typed = board([shot("Leaves in the wind", type="product")])
        assert router.infer_shot_type(typed.scenes[0].shots[0]) == (ShotType.PRODUCT, False)


class TestExplanation:
    def test_explains_choice_rejections_and_ranking(self, registry):
        decision = plan_for(board([shot(duration=8)]), registry, Mode.FINAL, HOSTED).decisions[
            "shot1"
        ]
        info = decision.explanation
        json.dumps(info)  # serialisable
        assert info["chosen"]["model"] == decision.candidates[0].model_id
        assert info["chosen"]["quote_usd"] > 0
        assert info["rejected"]["retired on 2026-09-24"] == ["openai/sora-2", "openai/sora-2-pro"]
        assert len(info["fallbacks"]) == len(decision.candidates) - 1
        for item in info["fallbacks"]:
            assert item["why_lower"].startswith(("score", "scores higher"))
        assert info["summary"].startswith(decision.candidates[0].model_id)
        data = json.loads(json.dumps(decision.to_dict()))
        assert data["rejected"]["openai/sora-2"] == ["retired on 2026-09-24"]

    def test_why_lower_names_the_losing_components(self, registry):
        pol = policy(Mode.FINAL, max_fallbacks=20)
        decision = plan_for(
            board([shot(duration=8)]), registry, Mode.FINAL, HOSTED, policy=pol
        ).decisions["shot1"]
        veo_fast = next(
            item
            for item in decision.explanation["fallbacks"]
            if item["model"] == "google/veo-3.1-fast"
        )
        assert "lower tier (high vs premium)" in veo_fast["why_lower"]
