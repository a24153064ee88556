"""Every setting an operator may set is in the README with the default the code has, and every
``SHOTLINE_*`` name the README mentions is read by the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from api.config import ApiSettings
from foundation.settings import Settings
from tests.readme import document

SETTINGS: list[tuple[type[BaseSettings], str]] = [
    (Settings, "SHOTLINE_"),
    (ApiSettings, "SHOTLINE_API_"),
]
FIELDS = [
    (prefix + name.upper(), info.default)
    for cls, prefix in SETTINGS
    for name, info in cls.model_fields.items()
]
#: how far after a setting's name its default may be written ("`SHOTLINE_X` (default 3, ...)",
#: "`SHOTLINE_A` and `SHOTLINE_B` (1 and 60: ...)")
NEAR = 160
MIB = 1024 * 1024
SOURCES = ("*.py", "Makefile", "*.toml", "*.yaml", "*.yml", "*.cfg", "*.sh")
IGNORED_DIRS = {".venv", ".tools", ".git", "node_modules"}


def spellings(default: Any) -> list[str]:
    """How the README may write ``default``: ``8 MiB`` for a whole number of MiB, ``100,000``
    or ``100000``, ``2`` for ``2.0``; a string as it is."""
    if isinstance(default, (str, Path)):
        return [str(default)]
    if isinstance(default, int) and default >= MIB and default % MIB == 0:
        return [f"{default // MIB} MiB"]
    number = int(default) if float(default).is_integer() else default
    return sorted({f"{number}", f"{number:,}"})


def written_near(name: str, words: list[str]) -> bool:
    text = document.text()
    for mention in re.finditer(re.escape(name) + r"(?![A-Z0-9_])", text):
        window = text[mention.end() : mention.end() + NEAR]
        if any(re.search(rf"(?<![\w.]){re.escape(w)}(?![\w]|\.\d)", window) for w in words):
            return True
    return False


@pytest.mark.parametrize(("name", "default"), FIELDS, ids=[name for name, _ in FIELDS])
def test_every_setting_is_documented_with_its_default(name: str, default: Any) -> None:
    assert re.search(re.escape(name) + r"(?![A-Z0-9_])", document.text()), (
        f"{name} is not in the README"
    )
    if default is None or isinstance(default, (bool, list)) or default == "":
        return  # unset, a switch, a list: the prose says what it means
    assert written_near(name, spellings(default)), (
        f"the README does not give {name}'s default {default!r} near its name"
    )


def names_in_code() -> set[str]:
    found: set[str] = set()
    for pattern in SOURCES:
        for path in document.ROOT.rglob(pattern):
            if IGNORED_DIRS.isdisjoint(path.relative_to(document.ROOT).parts):
                found |= set(re.findall(r"SHOTLINE_[A-Z0-9_]+", path.read_text(encoding="utf-8")))
    return found | {name for name, _ in FIELDS}


def test_every_name_the_readme_mentions_exists() -> None:
    # a family (`SHOTLINE_API_*`) is not a name
    mentioned = set(re.findall(r"SHOTLINE_[A-Z0-9_]+(?![A-Z0-9_*])", document.text()))
    assert mentioned - names_in_code() == set()


def test_spellings() -> None:
    assert spellings(8 * MIB) == ["8 MiB"]
    assert spellings(100_000) == ["100,000", "100000"]
    assert spellings(2.0) == ["2"]
    assert spellings(0.8) == ["0.8"]
    assert spellings(Path(".shotline")) == [".shotline"]
