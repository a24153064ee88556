"""The dry run: unroutable shots before any spend, the forecast, and agreement with the pipeline."""

from __future__ import annotations

import pytest

import router
from foundation.errors import InvalidInputError
from foundation.storyboard import Mode
from registry import load_registry
from router import UnroutableShotsError, attempts_for_confidence, raise_if_unroutable
from tests.router.conftest import ALL, board, plan_for, policy, shot


class TestUnroutable:
    def test_reported_per_shot_with_reasons_per_model(self, registry):
        b = board(
            [shot(duration=4), shot("a slow zoom", 9, model="kling/v9")],
            [shot(duration=3, model="openai/sora-2")],
        )
        result = plan_for(b, registry, Mode.FINAL)
        assert [u.shot_id for u in result.unroutable] == ["shot2", "shot3"]
        assert not result.ok
        with pytest.raises(UnroutableShotsError) as info:
            raise_if_unroutable(result)
        error = info.value
        assert isinstance(error, InvalidInputError)
        assert error.exit_code == 2
        assert [p.path for p in error.problems] == ["scenes[0].shots[1]", "scenes[1].shots[0]"]
        first, second = (p.message for p in error.problems)
        assert first.startswith("shot 'shot2': no model can take it: ")
        assert "pinned by the shot but not in the registry; did you mean kling/v3-std?" in first
        assert "retired on 2026-09-24 (openai/sora-2)" in second

    def test_routable_plan_does_not_raise(self, registry):
        raise_if_unroutable(plan_for(board([shot()]), registry))

    def test_unroutable_shot_has_an_explanation(self, registry):
        result = plan_for(board([shot(model="kling/v9")]), registry)
        info = result.decisions["shot1"].explanation
        assert info["chosen"] is None
        assert info["summary"].startswith("no enabled model")


class TestForecast:
    def test_cost_range_with_expected_retakes(self, registry):
        result = plan_for(board([shot(duration=8)] * 1, budget_usd=10), registry, Mode.FINAL)
        primary = result.decisions["shot1"].candidates[0]
        f = result.forecast
        assert f.cost_low_usd == pytest.approx(primary.quote_usd)
        assert f.cost_expected_usd == pytest.approx(primary.quote_usd / primary.acceptance)
        n = attempts_for_confidence(primary.acceptance, 3)
        assert f.cost_high_usd == pytest.approx(primary.quote_usd * n)
        assert f.headroom_usd == pytest.approx(10 - f.cost_expected_usd)
        assert f.worst_case_headroom_usd == pytest.approx(10 - f.cost_high_usd)
        data = result.to_dict()["forecast"]
        assert data["shots"][0]["model"] == primary.model_id

    def test_attempts_for_confidence(self):
        assert attempts_for_confidence(0.9, 5) == 2  # 1 - 0.1^2 = 0.99
        assert attempts_for_confidence(0.5, 10) == 5  # 1 - 0.5^5 = 0.97
        assert attempts_for_confidence(0.1, 3) == 3
        assert attempts_for_confidence(1.0, 3) == 1

    def test_wall_time_respects_model_concurrency(self, registry):
        shots = [shot(duration=5, model="runway/gen4.5") for _ in range(4)]
        result = plan_for(board(shots), registry)
        one = result.forecast.shots[0].expected_render_s
        assert result.forecast.wall_time_s == pytest.approx(one * 4 / 2)  # 2 at once
        high = result.forecast.shots[0].high_render_s
        assert high > one
        assert result.forecast.wall_time_high_s == pytest.approx(high * 4 / 2)

    def test_no_budget_no_headroom(self, registry):
        f = plan_for(board([shot()]), registry).forecast
        assert f.budget_usd is None
        assert f.headroom_usd is None


class TestAgreementWithThePipeline:
    @pytest.mark.parametrize("example", ["teaser.yaml", "one-shot.yaml"])
    @pytest.mark.parametrize("providers", ["local", "emulated"])
    @pytest.mark.parametrize("mode", [Mode.PREVIEW, Mode.FINAL])
    def test_same_routes_as_render_planning(self, example, providers, mode):
        from pathlib import Path

        from foundation.storyboard import load_storyboard
        from pipeline.context import RunContext
        from pipeline.planning import route_storyboard
        from shotline.commands.plan import build_plan

        path = Path(__file__).parents[2] / "examples" / example
        ours = build_plan(path, mode, providers)
        theirs = route_storyboard(RunContext.create(providers), load_storyboard(path), mode)
        assert list(ours.decisions) == list(theirs.decisions)
        for key, decision in ours.decisions.items():
            assert [c.to_dict() for c in decision.candidates] == [
                c.to_dict() for c in theirs.decisions[key].candidates
            ]


def test_enabled_providers():
    from foundation.settings import Settings

    bare = Settings()
    keyed = Settings(runway_api_key="r", fal_key="f")
    assert router.enabled_providers("local", bare) == {"local"}
    assert router.enabled_providers("emulated", bare) == ALL
    assert router.enabled_providers("live", bare) == set()
    assert router.enabled_providers("live", keyed) == {"runway", "fal"}
    assert router.enabled_providers("auto", keyed) == {"runway", "fal", "local"}
    with pytest.raises(router.UnknownProvidersChoiceError):
        router.enabled_providers("everything", bare)


def test_load_registry_and_policy_defaults():
    reg = load_registry()
    final = policy(Mode.FINAL)
    assert not final.allow_upscale
    assert final.draft_last_resort
    assert final.weights["quality"] > final.weights["cost"]
    assert policy().weights["cost"] > policy().weights["quality"]
    assert "local/animatic" in reg


def test_public_names_match_all():
    public = {name for name in dir(router) if not name.startswith("_")}
    assert set(router.__all__) == public - {"errors"}


class TestNoAnimaticInAPaidFinal:
    """Issue 18: a shot no hosted model can take was silently given to the local animatic in a
    final render (a text card in the middle of a paid video); now it is refused at planning."""

    def test_a_final_with_hosted_providers_refuses_the_shot_and_says_why(self, registry):
        b = board([shot(duration=4), shot("a long take", 60)])
        result = plan_for(b, registry, Mode.FINAL, providers={"local", "openai"})
        assert [u.shot_id for u in result.unroutable] == ["shot1", "shot2"]
        with pytest.raises(UnroutableShotsError) as info:
            raise_if_unroutable(result)
        message = info.value.problems[1].message
        assert "retired on 2026-09-24" in message
        assert "does not stand in for a hosted model in a final render" in message

    def test_a_long_take_is_rendered_by_hosted_models_in_segments(self, registry):
        b = board([shot(duration=4), shot("a long take", 60)])
        result = plan_for(b, registry, Mode.FINAL, providers=ALL)
        assert result.ok
        models = {d.primary.model_id for d in result.decisions.values() if d.primary}
        assert "local/animatic" not in models

    def test_pinning_the_animatic_asks_for_it(self, registry):
        b = board([shot(duration=4), shot("a long take", 60, model="local/animatic")])
        decision = plan_for(b, registry, Mode.FINAL, providers=ALL).decisions["shot2"]
        assert decision.primary is not None
        assert decision.primary.model_id == "local/animatic"

    @pytest.mark.parametrize(("mode", "providers"), [(Mode.PREVIEW, ALL), (Mode.FINAL, {"local"})])
    def test_previews_and_local_runs_still_use_it(self, registry, mode, providers):
        b = board([shot("a long take", 60)])
        decision = plan_for(b, registry, mode, providers=providers).decisions["shot1"]
        assert decision.primary is not None
        assert decision.primary.model_id == "local/animatic"
