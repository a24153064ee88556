"""What a dialogue line may hold. Every ``dialogue`` line is written to ``OUT.srt`` and
``OUT.vtt`` (and to the ASS script of burned-in captions) by ``stitching.captions``; those formats
read some text as markup, so such a line would be changed or lost in the files and the stitch
verification would fail after every shot was paid for. Validation refuses it with its path
instead, and, when captions are burned in, a line holding a character the caption font cannot
draw (``caption_font``). A line the video model speaks must also fit its shot at the fastest pace
anyone speaks (``pace_problem``)."""

from __future__ import annotations

import re
from typing import Any

from foundation.caption_font import FAMILY, undrawable
from foundation.errors import Problem
from foundation.spoken import spoken_words

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


FASTEST_WORD_S = 0.2
"""The least a spoken word lasts (5 words a second, twice a normal rate): a line whose words at
that pace overrun its shot cannot be said in it (a tts line may be sped up on top of that:
``stitching.voiceover.room_problem``)."""


def pace_problem(text: str, seconds: float) -> str | None:
    """Why no video model can say ``text`` in a ``seconds`` shot, or None."""
    words = spoken_words(text)
    least = words * FASTEST_WORD_S
    if least <= seconds + 1e-9:  # 17 words take 3.4000000000000004 s in binary
        return None
    return (
        f"the {words}-word line takes at least {least:.2f}s even at {1 / FASTEST_WORD_S:g} "
        f"words a second; the shot lasts {seconds:g}s: shorten the line or lengthen the shot"
    )


def listed(chars: list[str]) -> str:
    """The first eight of ``chars`` as a refusal names them: ``'漢' (U+6F22), '字' (U+5B57)``."""
    return ", ".join(f"{c!r} (U+{ord(c):04X})" for c in chars[:8])


def burn_in_problem(text: str) -> str | None:
    """Why ``text`` cannot be burned into the picture, or None."""
    missing = undrawable(text)
    if not missing:
        return None
    more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
    return (
        f"{listed(missing)}{more} cannot be burned in: the caption font ({FAMILY}) has no glyph for "
        "them; reword the line, or keep the captions to OUT.srt and OUT.vtt "
        "(captions.burn_in: false)"
    )


def dialogue_problems(shots: list[tuple[str, Any]], burn_in: bool = False) -> list[Problem]:
    """The shots (``(path, shot)``) whose ``dialogue`` cannot be captioned as written (with
    ``burn_in``: nor drawn into the picture)."""
    problems = []
    for path, shot in shots:
        why = shot.dialogue and caption_problem(shot.dialogue)
        if shot.dialogue and not why and burn_in:
            why = burn_in_problem(shot.dialogue)
        if why:
            problems.append(Problem(f"{path}.dialogue", why))
    return problems
