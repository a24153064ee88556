"""Money as decimals: how an amount enters the ledger, is summed, and leaves as JSON or text.

The ledger's unit is the **micro-dollar** (``0.000001`` USD): provider prices times seconds, judge
fees of a tenth of a cent and expected retakes are not whole cents, so amounts are kept to six
places, never to cents. Every amount is quantized to that unit (half up) where it enters (a price
quote, a settlement, a judge fee) and where it is summed (``total`` adds exact decimals), so no
float drift reaches a total.

At the edges:
- JSON (the API and every ``--json`` output) carries money as a **number of at most six decimal
  places** (``to_json``): ``1.96``, never ``1.9600000000000002``. A total is the exact sum of its
  rows at that precision.
- Text (CLI tables and messages) shows **cents** (``cents``); where rows rounded to cents do not add
  up to their rounded total, ``rounding_note`` says so and shows the exact total.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

MICRO = Decimal("0.000001")
CENT = Decimal("0.01")
ZERO = Decimal(0)

Amount = Decimal | float | int
MAX_BUDGET_USD = 1_000_000_000.0
"""The largest budget taken (shotline's bound): far above any video's, and far inside what an
amount of micro-dollars can hold and sum (``usd`` raises past about 10**22)."""


def decimal(value: Amount) -> Decimal:
    """``value`` as the decimal it was written as (a float through its shortest representation),
    not quantized: a price rate or a number of seconds before they are multiplied."""
    return value if isinstance(value, Decimal) else Decimal(repr(float(value)))


def usd(value: Amount | None) -> Decimal:
    """``value`` as an exact decimal of whole micro-dollars (None is 0). A float is read through
    its shortest representation, so the float ``1.9600000000000002`` becomes ``1.96``."""
    if value is None:
        return ZERO
    return decimal(value).quantize(MICRO, rounding=ROUND_HALF_UP) + ZERO  # + 0 turns -0 into 0


def total(values: Iterable[Amount | None]) -> Decimal:
    """The exact sum of ``values``, each taken to micro-dollars first (``usd``)."""
    return sum((usd(v) for v in values), ZERO)


def stored(value: Amount | None) -> float:
    """``value`` quantized to micro-dollars, as the float a database column holds."""
    return float(usd(value))


def to_json(value: Amount | None) -> float | None:
    """The JSON number of an amount: at most six decimal places, None stays None."""
    return None if value is None else float(usd(value))


def cents(value: Amount | None) -> str:
    """``$1.96``: the amount rounded to cents (half up) for people; ``-`` for None."""
    if value is None:
        return "-"
    rounded = usd(value).quantize(CENT, rounding=ROUND_HALF_UP) + ZERO
    return f"-${-rounded}" if rounded < 0 else f"${rounded}"


def rounding_note(rows: Iterable[Amount | None], total_usd: Amount) -> str:
    """Empty when ``rows`` shown in cents add up to ``total_usd`` shown in cents; else a sentence
    saying the rows are rounded and giving the exact total (e.g. ``$3.214``)."""
    shown = sum((usd(r).quantize(CENT, rounding=ROUND_HALF_UP) for r in rows), ZERO)
    whole = usd(total_usd)
    if shown == whole.quantize(CENT, rounding=ROUND_HALF_UP):
        return ""
    return (
        f"rows are rounded to cents and add up to {cents(shown)}; "
        f"the exact total is {exact(whole)} ({cents(whole)})"
    )


def exact(value: Amount | None) -> str:
    """``$3.214``: the amount to the micro-dollar without trailing zeros (at least cents)."""
    amount = usd(value).normalize()
    if amount.as_tuple().exponent > -2:  # type: ignore[operator]
        amount = amount.quantize(CENT)
    return f"-${-amount:f}" if amount < 0 else f"${amount:f}"
