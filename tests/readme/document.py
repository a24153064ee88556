"""The README as the tests of this package read it: its text outside code fences, its code spans
and code-block lines, its headings' anchors (as GitHub renders them) and its sections."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^\s*(```|~~~)")


@cache
def text() -> str:
    return README.read_text(encoding="utf-8")


def lines_outside_code() -> Iterator[tuple[int, str]]:
    """(line number, line) of every line that is not inside a fenced code block."""
    fenced = False
    for number, line in enumerate(text().splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            yield number, line


def code_block_lines() -> Iterator[tuple[int, str]]:
    fenced = False
    for number, line in enumerate(text().splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif fenced:
            yield number, line


def code_spans() -> Iterator[tuple[int, str]]:
    """(line number, content) of every inline code span outside code blocks; a table cell's
    escaped ``\\|`` is read as ``|``."""
    for number, line in lines_outside_code():
        for span in re.findall(r"`([^`]+)`", line):
            yield number, span.replace("\\|", "|")


def anchor(heading: str) -> str:
    """GitHub's id for a heading: links kept as their text, lower case, punctuation dropped
    except ``-`` and ``_``, spaces as ``-``."""
    words = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", words).replace(" ", "-")


def headings() -> list[str]:
    return [
        m.group(2).strip()
        for _, line in lines_outside_code()
        if (m := re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line))
    ]


def anchors() -> set[str]:
    """Every heading's anchor; a repeated one gets ``-1``, ``-2``... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for heading in headings():
        slug = anchor(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def section(title: str) -> str:
    """The text under the heading ``title`` up to the next heading of its level or above."""
    match = re.search(rf"^(#+) {re.escape(title)}\s*$", text(), re.M)
    assert match is not None, f"the README has no section {title!r}"
    level = len(match.group(1))
    end = re.search(rf"^#{{1,{level}}} ", text()[match.end() :], re.M)
    return text()[match.end() : match.end() + end.start() if end else None]
