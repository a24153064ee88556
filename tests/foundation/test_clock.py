"""``SHOTLINE_TODAY`` pins the day lifecycles and prices are evaluated on."""

from __future__ import annotations

from datetime import date

import pytest

from foundation import clock


def test_a_run_names_its_day_else_it_is_the_calendars(monkeypatch):
    monkeypatch.setenv("SHOTLINE_TODAY", "2027-01-15")
    assert clock.today() == date(2027, 1, 15)
    monkeypatch.setenv("SHOTLINE_TODAY", "")
    assert clock.today() == date.today()


def test_a_day_that_is_no_date_is_named(monkeypatch):
    monkeypatch.setenv("SHOTLINE_TODAY", "next tuesday")
    with pytest.raises(ValueError, match=r"SHOTLINE_TODAY='next tuesday' is not a date"):
        clock.today()
