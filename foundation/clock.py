"""Today's date as every lifecycle and price check reads it: one function, so that a test can
pin the day those checks see (a model's announced shutdown must not fail a test on that date).

``SHOTLINE_TODAY`` (``YYYY-MM-DD``) sets that day for a process and the processes it starts: a plan
as it will route after a model's shutdown, or a test suite as of the day it was written."""

from __future__ import annotations

import os
from datetime import date

ENV = "SHOTLINE_TODAY"


def today() -> date:
    """The calendar day that prices, lifecycles and routing are evaluated on."""
    pinned = os.environ.get(ENV, "").strip()
    if not pinned:
        return date.today()
    try:
        return date.fromisoformat(pinned)
    except ValueError:
        raise ValueError(f"{ENV}={pinned!r} is not a date (YYYY-MM-DD)") from None
