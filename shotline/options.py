"""Options several commands share, declared once so that each parses, shows and refuses them
alike (``Invalid value for '--providers': 'x' is not one of ...``, exit 2)."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from foundation.providers import ProviderChoice

__all__ = ["DraftProviders", "Providers"]

Providers = Annotated[
    ProviderChoice, typer.Option(help="local: no hosted provider; auto: those whose keys are set")
]
"""``--providers``, as ``render``, ``plan``, ``commit``, ``serve`` and ``doctor`` take it."""

DraftProviders = Annotated[
    Literal["emulated", "auto", "live"],
    typer.Option(help="auto and live: SHOTLINE_OPENAI_API_KEY or SHOTLINE_GEMINI_API_KEY"),
]
"""``shotline draft --providers``: a chat model is needed, so ``local`` is not offered."""
