"""What a caption may hold. Every ``dialogue`` line is written to ``OUT.srt`` and ``OUT.vtt`` (and
to the ASS script of burned-in captions) by ``stitching.captions``; those formats read some text as
markup, so such a line would be changed or lost in the files and the stitch verification would fail
after every shot was paid for. Validation refuses it with its path instead."""

from __future__ import annotations

import re
from typing import Any

from foundation.errors import Problem

_MARKUP = (
    (re.compile(r"\{[^}]*\}"), "a {...} block is a styling tag in subtitle files"),
    (re.compile(r"< */? *[A-Za-z][^>]*>"), "a <...> tag is markup in OUT.srt and OUT.vtt"),
    (re.compile(r"\\[Nnh]"), r"\N, \n and \h are line breaks and spaces in subtitle files"),
    (re.compile(r"-->"), "'-->' is a cue's timing in OUT.srt and ends its text in OUT.vtt"),
)


def caption_problem(text: str) -> str | None:
    """Why ``text`` cannot be captioned as written, or None."""
    flat = " ".join(text.split())  # as ``stitching.captions.wrap`` lays it out
    for pattern, why in _MARKUP:
        found = pattern.search(flat)
        if found:
            return f"{found[0][:40]!r} cannot be captioned: {why}; reword the line"
    return None


def dialogue_problems(shots: list[tuple[str, Any]]) -> list[Problem]:
    """The shots (``(path, shot)``) whose ``dialogue`` cannot be captioned as written."""
    return [
        Problem(f"{path}.dialogue", why)
        for path, shot in shots
        if shot.dialogue and (why := caption_problem(shot.dialogue))
    ]
