"""The prompt policy: rules a storyboard's texts must not match, read from a YAML file users edit.

The shipped rules live in ``quality/prompt_policy.yaml``; ``SHOTLINE_PROMPT_POLICY`` names another
file of the same schema. A rule has an ``id``, a ``description``, the ``fields`` it reads
(``prompt``, ``negative_prompt``, ``dialogue``, ``title``) and ``words`` (whole words or phrases)
and/or ``patterns`` (regular expressions); both match case-insensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from foundation.errors import Problem
from quality.errors import QualityError

DEFAULT_PROMPT_POLICY = Path(__file__).with_name("prompt_policy.yaml")
TextField = Literal["prompt", "negative_prompt", "dialogue", "title"]
TEXT_FIELDS: tuple[TextField, ...] = ("prompt", "negative_prompt", "dialogue", "title")


class PromptPolicyError(QualityError):
    """The rule file cannot be used: a server's configuration error, not the caller's input."""

    def __init__(self, source: Path, problems: list[Problem]) -> None:
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"invalid prompt policy {source}\n{lines}")
        self.problems = problems


class PromptRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    description: str = Field(min_length=1, max_length=200)
    fields: tuple[TextField, ...] = Field(min_length=1)
    words: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _matches_something(self) -> Self:
        if not self.words and not self.patterns:
            raise ValueError("a rule needs `words` or `patterns`")
        if any(not w.strip() for w in self.words):
            raise ValueError("`words` has an empty entry")
        for index, pattern in enumerate(self.patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"patterns[{index}] is not a regular expression: {exc}") from None
        return self


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    rules: tuple[PromptRule, ...]


def _word_regex(word: str) -> str:
    """A word or phrase as a whole-word match: any run of spaces matches any whitespace."""
    body = r"\s+".join(re.escape(part) for part in word.split())
    return rf"(?<!\w){body}(?!\w)"


@dataclass(frozen=True)
class Match:
    rule: PromptRule
    text: str  # what matched, as the user wrote it

    def reason(self) -> str:
        return f"{self.rule.description}: matched {self.text!r}"


@dataclass(frozen=True)
class PromptPolicy:
    """Compiled rules; ``match`` answers the first rule a field's text breaks."""

    source: str
    rules: tuple[PromptRule, ...]
    compiled: tuple[re.Pattern[str], ...]

    @classmethod
    def from_rules(cls, rules: tuple[PromptRule, ...], source: str) -> PromptPolicy:
        compiled = tuple(
            re.compile(
                "|".join(
                    [*(_word_regex(w) for w in rule.words), *(f"(?:{p})" for p in rule.patterns)]
                ),
                re.IGNORECASE,
            )
            for rule in rules
        )
        return cls(source, rules, compiled)

    def match(self, field: TextField, text: str) -> Match | None:
        for rule, regex in zip(self.rules, self.compiled, strict=True):
            if field not in rule.fields:
                continue
            found = regex.search(text)
            if found:
                return Match(rule, found.group(0)[:80])
        return None


def load_prompt_policy(path: Path | None = None) -> PromptPolicy:
    """Read and validate a rule file; raise ``PromptPolicyError`` naming every bad rule."""
    source = path or DEFAULT_PROMPT_POLICY
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise QualityError(f"cannot read prompt policy {source}: {exc}") from exc
    try:
        parsed = _PolicyFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(".".join(str(p) for p in err["loc"]), err["msg"].removeprefix("Value error, "))
            for err in exc.errors()
        ]
        raise PromptPolicyError(source, problems) from None
    seen: set[str] = set()
    for index, rule in enumerate(parsed.rules):
        if rule.id in seen:
            problem = Problem(f"rules.{index}.id", f"duplicate rule id {rule.id!r}")
            raise PromptPolicyError(source, [problem])
        seen.add(rule.id)
    return PromptPolicy.from_rules(parsed.rules, str(source))


@lru_cache(maxsize=8)
def _cached(path: Path, mtime_ns: int) -> PromptPolicy:
    return load_prompt_policy(path)


def prompt_policy(path: Path | None = None) -> PromptPolicy:
    """The policy at ``path`` (default: the shipped one), read again when the file changes."""
    source = (path or DEFAULT_PROMPT_POLICY).resolve()
    try:
        mtime = source.stat().st_mtime_ns
    except OSError as exc:
        raise QualityError(f"cannot read prompt policy {source}: {exc}") from exc
    return _cached(source, mtime)
