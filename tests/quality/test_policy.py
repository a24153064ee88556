from __future__ import annotations

from pathlib import Path

import pytest

from foundation.errors import InvalidInputError
from quality.policy import DEFAULT_POLICY, default_policy, load_policy


def test_shipped_policy_is_valid_and_covers_every_tier() -> None:
    policy = load_policy(DEFAULT_POLICY)
    assert set(policy.tiers) >= {"draft", "standard", "premium"}
    assert policy.action_for("black_head", "standard") == "repair"
    assert policy.action_for("something_new", "standard") == "retry"
    assert policy.tier("no-such-tier") == policy.tiers["standard"]
    assert default_policy() == policy


def test_invalid_policy_lists_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("actions: {black_head: fix}\ntiers: {standard: {min_score: 2}}\nextra: 1\n")
    with pytest.raises(InvalidInputError) as caught:
        load_policy(bad)
    paths = {p.path for p in caught.value.problems}
    assert {"actions.black_head", "tiers.standard.min_score", "extra"} <= paths


def test_default_tier_must_exist(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("actions: {}\ntiers: {draft: {}}\n")
    with pytest.raises(InvalidInputError, match="invalid gate policy"):
        load_policy(bad)


@pytest.mark.parametrize(
    "override",
    [
        "{draft: {severity: {unsafe_content: warning}}}",
        "{draft: {actions: {unsafe_content: ignore}}}",
    ],
)
def test_no_tier_may_let_unsafe_content_through(tmp_path: Path, override: str) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text(f"actions: {{}}\ntiers: {override}\ndefault_tier: draft\n")
    with pytest.raises(InvalidInputError) as caught:
        load_policy(bad)
    assert "unsafe_content must stay an error" in caught.value.problems[0].message


def test_a_policy_file_that_is_not_utf8_is_refused_naming_it(tmp_path: Path) -> None:
    binary = tmp_path / "policy.yaml"
    binary.write_bytes(b"actions: {black_head: \xff}\n")
    with pytest.raises(InvalidInputError, match=f"cannot read gate policy {binary}") as caught:
        load_policy(binary)
    assert caught.value.problems[0].path == "--policy"
