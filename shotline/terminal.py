"""The console every command prints on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def terminal(*, stderr: bool = False, width: int | None = None) -> Console:
    """A Rich console printing user text as written: Rich's ``:name:`` emoji codes are off (a path
    ``o:thumbs_up:.mp4`` printed as ``o👍.mp4``, a title's ``:rocket:`` as 🚀)."""
    from rich.console import Console

    return Console(stderr=stderr, width=width, emoji=False)
