"""Today's date as every lifecycle and price check reads it: one function, so that a test can
pin the day those checks see (a model's announced shutdown must not fail a test on that date)."""

from __future__ import annotations

from datetime import date


def today() -> date:
    """The calendar day that prices, lifecycles and routing are evaluated on."""
    return date.today()
