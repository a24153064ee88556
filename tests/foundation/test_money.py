"""Money as decimals: quantized to micro-dollars on the way in, exact sums, JSON numbers without
float drift, cents for people and an honest note when rounded rows do not add up."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from foundation import money


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.28 * 7, "1.960000"),  # 1.9600000000000002 as a float
        (0.1 + 0.2, "0.300000"),
        (0.0012, "0.001200"),
        (-0.0000001, "0.000000"),  # no negative zero
        (2.0000005, "2.000001"),  # half up
        (None, "0"),
        (Decimal("3.2140004"), "3.214000"),
    ],
)
def test_usd_quantizes_to_micro_dollars(value, expected):
    assert str(money.usd(value)) == expected


def test_total_is_exact_and_json_has_no_drift():
    rows = [0.1, 0.2, 0.28 * 7, 0.0012, None]
    assert repr(0.1 + 0.2 + 0.28 * 7) == "2.2600000000000002", "floats drift"
    assert money.total(rows) == Decimal("2.2612")
    assert json.dumps([money.to_json(money.total(rows)), money.to_json(0.28 * 7)]) == (
        "[2.2612, 1.96]"
    )
    assert money.to_json(None) is None
    assert money.stored(1.23456789) == 1.234568


def test_cents_and_the_rounding_note():
    assert (money.cents(0.125), money.cents(-1.5), money.cents(None)) == ("$0.13", "-$1.50", "-")
    assert money.exact(3.214) == "$3.214"
    assert money.exact(3) == "$3.00"
    assert money.rounding_note([1.6, 1.6], 3.2) == ""
    note = money.rounding_note([1.607225, 1.60673], 3.213955)
    assert note == (
        "rows are rounded to cents and add up to $3.22; the exact total is $3.213955 ($3.21)"
    )
