"""Each verdict path of the policy, on synthetic findings (no media)."""

from __future__ import annotations

import pytest

from quality.events import Finding
from quality.policy import GatePolicy, TierPolicy, default_policy
from quality.verdict import apply_tier, decide, keep_range

FRAME = 1 / 24


def _decide(findings: list[Finding], tier: str = "standard", **kw: object):
    policy = kw.pop("policy", default_policy())
    adjusted = apply_tier(findings, policy, tier)  # type: ignore[arg-type]
    args = {"end_s": 2.0, "needed_s": 1.5, "frame_s": FRAME, **kw}
    return decide(adjusted, policy, tier, **args)  # type: ignore[arg-type]


def test_accept_when_only_warnings_and_info() -> None:
    decision = _decide(
        [Finding("soft_clip", "soft", severity="warning"), Finding("vfr", "vfr", severity="info")]
    )
    assert decision.action == "accept"
    assert decision.drivers == []


def test_repair_trims_head_and_tail_when_rest_covers_shot() -> None:
    head = Finding("black_head", "b", 0.0, 0.25)
    tail = Finding("freeze_tail", "f", 1.75, 2.0)
    decision = _decide([head, tail])
    assert decision.action == "repair"
    assert decision.repair == (0.25, 1.75)
    assert decision.drivers == [head, tail]


def test_repair_impossible_becomes_retry_with_reason() -> None:
    decision = _decide([Finding("black_head", "b", 0.0, 1.0)])
    assert decision.action == "retry"
    assert "repair impossible" in decision.notes[0]


def test_random_defect_in_the_middle_retries() -> None:
    decision = _decide(
        [Finding("black_middle", "b", 0.8, 1.0), Finding("black_head", "b", 0.0, 0.1)]
    )
    assert decision.action == "retry"
    assert {f.code for f in decision.drivers} == {"black_middle", "black_head"}


def test_systematic_defect_escalates_and_wins_over_retry() -> None:
    decision = _decide([Finding("wrong_aspect", "a"), Finding("freeze", "f", 0.5, 1.2)])
    assert decision.action == "escalate"
    assert [f.code for f in decision.drivers] == ["wrong_aspect"]


def test_escalation_without_next_model_gives_up() -> None:
    decision = _decide([Finding("missing_audio", "m")], can_escalate=False)
    assert decision.action == "give_up"
    assert "no further model" in decision.notes[-1]


def test_retries_exhausted_escalate() -> None:
    decision = _decide([Finding("freeze", "f", 0.5, 1.2)], attempt=3)
    assert decision.action == "escalate"
    assert "exceeds 2 retries" in decision.notes[0]


def test_policy_give_up_action() -> None:
    base = default_policy()
    policy = GatePolicy(
        detectors=base.detectors,
        actions={**base.actions, "undecodable": "give_up"},
        tiers=base.tiers,
    )
    decision = _decide(
        [Finding("undecodable", "u"), Finding("freeze", "f", 0.2, 0.9)], policy=policy
    )
    assert decision.action == "give_up"
    assert [f.code for f in decision.drivers] == ["undecodable"]


def test_draft_tier_tolerates_blur_premium_does_not_tolerate_exposure() -> None:
    blur = Finding("blur", "b", 0.5, 1.0)
    assert _decide([blur], tier="draft").action == "accept"
    assert _decide([blur], tier="standard").action == "retry"
    dark = Finding("underexposed", "d", severity="warning")
    assert _decide([dark], tier="standard").action == "accept"
    assert _decide([dark], tier="premium").action == "retry"


def test_ignored_codes_never_drive() -> None:
    decision = _decide([Finding("long_duration", "long", severity="error")])
    assert decision.action == "accept"


def test_tier_action_override() -> None:
    base = default_policy()
    tiers = {**base.tiers, "strict": TierPolicy(actions={"freeze": "escalate"})}
    policy = GatePolicy(detectors=base.detectors, actions=base.actions, tiers=tiers)
    assert (
        _decide([Finding("freeze", "f", 0.5, 1.2)], tier="strict", policy=policy).action
        == "escalate"
    )


@pytest.mark.parametrize(("start", "end"), [(0.0, 2.0), (0.5, 1.0)])
def test_keep_range_rejects_whole_clip_and_middle_defects(start: float, end: float) -> None:
    keep, why = keep_range([Finding("black_head", "b", start, end)], 2.0, 1.0, FRAME / 2)
    assert keep is None
    assert "not at the head or tail" in why
