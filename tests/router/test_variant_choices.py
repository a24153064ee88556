"""The variant rule: per shot and variant, reframe ($0) or render natively (its quote), and the
refusal at planning of a ``native`` variant no model of a shot's chain renders."""

from __future__ import annotations

from typing import Any

import pytest

import router
from foundation.storyboard import parse_storyboard
from pipeline.variant_plan import native_usd, variants_of
from registry import load_registry

HOSTED = frozenset({"runway", "google", "kling", "luma", "fal", "replicate", "openai"})
REGISTRY = load_registry()


def board(variants: list[Any], budget: float | None = None, **shot_b: Any) -> dict[str, Any]:
    shots = [
        {"id": "a", "prompt": "a harbour at dawn", "duration": 2, "model": "kling/v3-pro"},
        {"id": "b", "prompt": "a quiet street", "duration": 2} | shot_b,
    ]
    data: dict[str, Any] = {
        "title": "t", "mode": "final", "output": {"size": "320x180", "variants": variants},
        "scenes": [{"id": "s", "shots": shots}],
    }  # fmt: skip
    if budget is not None:
        data["budget_usd"] = budget
    return data


def choose(data: dict[str, Any], headroom: float | None = None):
    parsed = parse_storyboard(data)
    plan = router.plan(parsed, REGISTRY, mode=parsed.mode, providers=HOSTED)
    judge = router.Router(REGISTRY, mode=parsed.mode, providers=HOSTED)
    return router.with_variants(plan, judge, headroom)


def by_shot(plan: router.Plan, index: int = 0) -> dict[str, router.VariantChoice]:
    return {c.shot_id: c for c in plan.variants if c.index == index}


def test_a_plain_variant_is_reframed_for_nothing():
    plan, problems = choose(board(["9:16"]))
    assert not problems
    assert [(c.render, c.quote_usd) for c in plan.variants] == [("reframe", 0.0)] * 2
    assert native_usd(plan) == 0


def test_auto_renders_natively_only_where_the_crop_keeps_under_half_the_picture():
    plan, _ = choose(
        board([{"aspect": "9:16", "render": "auto"}, {"aspect": "1:1", "render": "auto"}])
    )
    tall, square = by_shot(plan, 0), by_shot(plan, 1)
    assert {c.render for c in tall.values()} == {"native"}
    first = tall["a"].candidates[0]
    assert first.width * 16 == first.height * 9  # asked in the variant's aspect, at 720x1280
    assert tall["a"].quote_usd == first.quote_usd > 0
    assert "keep 31%" in tall["a"].reason
    assert {c.render for c in square.values()} == {"reframe"}
    assert "keeps 56%" in square["a"].reason
    assert native_usd(plan) == pytest.approx(tall["a"].quote_usd + tall["b"].quote_usd)


def test_auto_falls_back_to_reframing_when_the_budget_has_no_room():
    plan, _ = choose(board([{"aspect": "9:16", "render": "auto"}]))
    quote = by_shot(plan)["a"].quote_usd
    plan, _ = choose(board([{"aspect": "9:16", "render": "auto"}]), headroom=quote * 1.5)
    renders = {k: c.render for k, c in by_shot(plan).items()}
    assert renders == {"a": "native", "b": "reframe"}  # the first fits, the second does not
    assert "the budget leaves" in by_shot(plan)["b"].reason


def test_shots_limit_the_native_renders_to_the_shots_named():
    plan, _ = choose(board([{"aspect": "9:16", "render": "native", "shots": ["b"]}]))
    assert {k: c.render for k, c in by_shot(plan).items()} == {"a": "reframe", "b": "native"}
    listed = variants_of(plan.board, plan)[0]
    assert listed["shots"] == {"a": "reframe", "b": "native"}
    assert listed["extra_provider_usd"] == pytest.approx(by_shot(plan)["b"].quote_usd)


def test_native_is_refused_where_no_model_of_the_chain_renders_the_aspect():
    """runway/gen4.5 renders 16:9 and 9:16 only: pinned, shot b has no 1:1 model."""
    plan, problems = choose(board([{"aspect": "1:1", "render": "native"}], model="runway/gen4.5"))
    assert [p.path for p in problems] == ["output.variants[0]"]
    assert "no model of shot b's chain renders 1:1" in problems[0].message
    assert "runway/gen4.5" in problems[0].message
    assert by_shot(plan)["a"].render == "native"  # kling/v3-pro renders 1:1


def test_native_auto_without_a_model_is_reframed_not_refused():
    _plan, problems = choose(board([{"aspect": "1:1", "render": "auto"}], model="runway/gen4.5"))
    assert not problems


@pytest.mark.parametrize(
    ("text", "size"), [("9:16", (180, 320)), ("1:1", (240, 240)), ("1080x1920", (180, 320))]
)
def test_native_size_keeps_the_main_pixel_count(text, size):
    assert router.native_size(text, 320, 180) == size
