"""The one request builder, ``pipeline.requests.build_request``: what a provider is sent for each
routed candidate (the same builder production stores every attempt's request with)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.base import GenerationRequest
from foundation.storyboard import Mode, Storyboard
from pipeline.planning import candidate_record
from pipeline.requests import build_request
from registry import Registry, load_registry
from router import ShotDecision
from store.records import ShotRoute
from tests.router.conftest import ALL, board, plan_for, shot


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def requests(b: Storyboard, decision: ShotDecision) -> list[GenerationRequest]:
    """The request of every candidate of the decision, built as production builds them."""
    spec: dict[str, Any] = next(
        s.model_dump(mode="json") for _, s in b.shots() if s.id == decision.shot_id
    )
    route = ShotRoute(seed=decision.need.seed, shot_type=str(decision.need.shot_type))
    return [build_request(spec, candidate_record(c), route) for c in decision.candidates]


def test_fallbacks_carry_prompt_seed_and_reference_image(registry):
    b = board([shot("a lighthouse in fog", 5, reference_image="ref.png", seed=7)])
    decision = plan_for(b, registry, Mode.FINAL, ALL).decisions["shot1"]
    built = requests(b, decision)
    assert len(built) >= 3
    assert {r.prompt for r in built} == {"a lighthouse in fog"}
    assert {r.seed for r in built} == {7}
    assert {r.reference_image for r in built} == {Path("ref.png")}
    assert [r.model for r in built] == [c.model_id for c in decision.candidates]
    assert [(r.width, r.height, r.duration_s) for r in built] == [
        (c.width, c.height, c.duration_s) for c in decision.candidates
    ]
    kling = [r for r in built if r.model == "kling/v3-pro"]
    assert not kling or kling[0].extra == {}  # kling-3.0 has no std/pro mode


def test_seed_is_fixed_when_the_storyboard_has_none(registry):
    b = board([shot(duration=8)])
    first = plan_for(b, registry).decisions["shot1"]
    again = plan_for(b, registry).decisions["shot1"]
    assert first.need.seed == again.need.seed
    assert {r.seed for r in requests(b, first)} == {first.need.seed}
    assert {r.shot_type for r in requests(b, first)} == {first.need.shot_type}


def test_dialogue_goes_to_models_that_speak_it(registry):
    b = board([shot("two riders meet", 8, audio="dialogue", dialogue="We ride at dawn.")])
    decision = plan_for(b, registry, Mode.FINAL, ALL).decisions["shot1"]
    built = requests(b, decision)
    assert built
    assert all(r.audio for r in built)
    assert {r.dialogue for r in built} == {"We ride at dawn."}
    assert all(registry.get(r.model).dialogue for r in built)


def test_silent_renders_get_no_dialogue(registry):
    """A line with no audio asked for: the renders are silent, so no model is sent the line
    (the registry's ``dialogue`` is native speech, which needs audio)."""
    b = board([shot("two riders meet", 8, dialogue="We ride at dawn.")])
    decision = plan_for(b, registry, Mode.FINAL, ALL).decisions["shot1"]
    built = requests(b, decision)
    silent = [r for r in built if not r.audio]
    assert silent
    assert {r.dialogue for r in silent} == {None}
    assert all(r.dialogue == "We ride at dawn." for r in built if r.audio)
