"""The prompt policy file: the shipped rules, whole-word matching, fields, and a user's own file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from quality.prompt_policy import (
    DEFAULT_PROMPT_POLICY,
    PromptPolicyError,
    load_prompt_policy,
    prompt_policy,
)

SHIPPED = load_prompt_policy()


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("a pirate stabbed to death on the deck", "weapons-graphic"),
        ("he SHOOTS the guard in the head", "weapons-graphic"),
        ("a gory battlefield", "gore"),
        ("she says she will kill herself, then: kill myself", "self-harm"),
        ("a deepfake of a famous actor", "deepfake"),
        ("an explicit   sex scene", "sexual-explicit"),
        ("a crowd giving a Nazi salute", "hate-symbols"),
    ],
)
def test_shipped_rules_refuse_what_they_describe(text: str, rule: str) -> None:
    found = SHIPPED.match("prompt", text)
    assert found is not None
    assert found.rule.id == rule
    assert found.text.lower() in text.lower()


@pytest.mark.parametrize(
    "text",
    [
        "a lighthouse in fog at dawn, slow dolly in",
        "an allegory of the seasons in a medieval village",  # "gory" inside a word
        "a close-up shot in the rain, the camera tracks her face",
        "stars visible to the naked eye over the desert",
        "kids playing football on a beach at sunset",
        "a film crew shooting a commercial in a studio",
    ],
)
def test_shipped_rules_leave_ordinary_prompts_alone(text: str) -> None:
    assert SHIPPED.match("prompt", text) is None


def test_a_rule_reads_only_its_fields() -> None:
    # negative prompts list what must not appear: the shipped rules do not read them
    assert SHIPPED.match("negative_prompt", "gore, blood, mutilation") is None
    assert SHIPPED.match("title", "A Gory Tale") is not None
    assert SHIPPED.match("dialogue", "a deepfake, obviously") is not None


def test_a_users_file_replaces_the_shipped_one(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "rules:\n"
        "  - id: no-competitors\n"
        "    description: competitor brands\n"
        "    fields: [prompt, negative_prompt]\n"
        "    words: [acme cola]\n"
        "    patterns: ['\\bglobex\\w*']\n"
    )
    policy = prompt_policy(path)
    assert policy.match("prompt", "a can of ACME  Cola on ice").rule.id == "no-competitors"  # type: ignore[union-attr]
    assert policy.match("negative_prompt", "no Globexcorp logos") is not None
    assert policy.match("prompt", "a pirate stabbed to death") is None  # shipped rules are gone
    path.write_text(path.read_text().replace("acme cola", "initech"))
    os.utime(path, ns=(1, path.stat().st_mtime_ns + 10_000_000))
    assert prompt_policy(path).match("prompt", "an Initech office") is not None  # read again


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        ("rules:\n  - {id: a, description: d, fields: [prompt]}\n", "rules.0", "needs `words`"),
        (
            "rules:\n  - {id: a, description: d, fields: [prompt], patterns: ['(unclosed']}\n",
            "rules.0",
            "patterns[0] is not a regular expression",
        ),
        ("rules:\n  - {id: a, description: d, fields: [caption], words: [x]}\n", "fields", ""),
        (
            "rules:\n  - {id: a, description: d, fields: [prompt], words: [x]}\n"
            "  - {id: a, description: e, fields: [prompt], words: [y]}\n",
            "rules.1.id",
            "duplicate rule id 'a'",
        ),
    ],
)
def test_a_bad_rule_file_names_the_rule_and_the_problem(
    tmp_path: Path, body: str, where: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(PromptPolicyError) as caught:
        load_prompt_policy(path)
    assert str(path) in caught.value.message
    assert any(where in p.path and message in p.message for p in caught.value.problems)


def test_the_shipped_file_is_in_the_package() -> None:
    assert DEFAULT_PROMPT_POLICY.parent.name == "quality"
    assert len(SHIPPED.rules) >= 6
    assert all(rule.description for rule in SHIPPED.rules)
