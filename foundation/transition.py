"""A transition into a shot, parsed from its storyboard text (``cut``, ``crossfade:0.5``,
``fade:0.5`` through black, ``wipe:0.5``)."""

from __future__ import annotations

import re

from foundation import limits as lim
from foundation.strict import Strict

_TRANSITION_RE = re.compile(r"^(cut|crossfade|fade|wipe)(?::(\d{1,6}(?:\.\d{1,6})?))?$")


class Transition(Strict):
    """Transition into a shot; ``crossfade`` and ``fade`` (via black) overlap the previous one."""

    kind: str = "cut"
    seconds: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Transition:
        match = _TRANSITION_RE.match(text.strip().lower())
        if not match:
            shown = text if len(text) <= 40 else text[:40] + "..."
            raise ValueError(
                f"transition {shown!r} must be cut, crossfade:SECONDS, fade:SECONDS or "
                "wipe:SECONDS (at most 6 digits either side of the point)"
            )
        kind, seconds = match[1], float(match[2] or 0)
        if kind == "cut" and match[2]:
            raise ValueError("a cut takes no duration")
        if kind != "cut" and seconds <= 0:
            raise ValueError(f"{kind} needs a duration > 0, e.g. {kind}:0.5")
        if seconds > lim.MAX_SHOT_S:
            raise ValueError(f"{kind} of {seconds:g}s is longer than any shot may be")
        return cls(kind=kind, seconds=seconds)

    def __str__(self) -> str:
        seconds = f"{self.seconds:.6f}".rstrip("0").rstrip(".")  # no exponent: parses again
        return "cut" if self.kind == "cut" else f"{self.kind}:{seconds}"
