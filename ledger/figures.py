"""The ledger's money figures, each defined once, over the per-attempt cost records (``AttemptCost``)
and the preview commits (``JobCommit``).

``shotline costs``, ``shotline budget show``, ``GET /v1/costs``, ``GET /v1/dashboard``, ``/metrics``
and the job reports all take their money from these functions, so every view shows the same
numbers. Amounts are exact decimals of micro-dollars (``foundation.money``): a total is the exact
sum of its rows.

Real and emulated money are apart: a record is **emulated** when its job ran on the emulated
providers (``Job.providers == "emulated"``, copied onto the record when it is opened). Emulated
attempts moved no money; every view reports their figures separately (``emulated_usd`` and an
``emulated`` block), and tenant budgets do not count them (``ledger.tenants``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Numeric, cast, func
from sqlalchemy.orm import Session

from foundation.money import ZERO, total, usd
from foundation.states import ATTEMPT_ACCEPTED, AttemptStatus
from store.models import AttemptCost, JobCommit

MICRO_PLACES = 6


def in_micro(column_sum: ColumnElement[float]) -> ColumnElement[float]:
    """A running total's new value (a job's or a tenant's ``reserved_usd``, ``spent_usd``) kept
    in whole micro-dollars, as every amount booked is (``money.usd``): float additions in the
    database otherwise leave residues (``1.4e-17`` still reserved once every reservation of a job
    was released)."""
    return func.round(cast(column_sum, Numeric), MICRO_PLACES)


def released(session: Session, held: Any, amount: float) -> ColumnElement[float]:
    """A running ``reserved_usd`` less ``amount``, never below 0 (a job's and a tenant's alike:
    a reservation taken before the counter existed is released all the same)."""
    floor = func.max if session.get_bind().dialect.name == "sqlite" else func.greatest
    return in_micro(floor(held - amount, 0.0))


WASTED = frozenset({AttemptStatus.REJECTED, AttemptStatus.FAILED, AttemptStatus.CANCELLED})
"""Verdicts of attempts that ended without a kept clip."""

Row = TypeVar("Row", bound=AttemptCost)


def split(rows: Iterable[Row]) -> tuple[list[Row], list[Row]]:
    """``rows`` as (real, emulated), each in the given order."""
    real: list[Row] = []
    emulated: list[Row] = []
    for row in rows:
        (emulated if row.emulated else real).append(row)
    return real, emulated


def spend_of(row: AttemptCost) -> Decimal:
    """What one attempt cost in all: what its provider charged (``settled_usd``, 0 while
    unsettled) plus any judge fee (``judge_usd``)."""
    return usd(row.settled_usd) + usd(row.judge_usd)


def spent(rows: Iterable[AttemptCost]) -> Decimal:
    """**Spent**: the sum of ``spend_of`` over every attempt, accepted or not (waste included)."""
    return total(spend_of(r) for r in rows)


def settled_of(row: AttemptCost) -> Decimal:
    """What one attempt's provider charged (``spend_of`` without the judge fee)."""
    return usd(row.settled_usd)


def settled(rows: Iterable[AttemptCost]) -> Decimal:
    """The provider charges alone (``spent`` without judge fees)."""
    return total(settled_of(r) for r in rows)


def held_of(row: AttemptCost) -> Decimal:
    """The reservation an attempt still holds: its reserved worst-case quote until it is settled
    (a ``submission_unknown`` attempt keeps it until resolved), then 0."""
    return usd(row.reserved_usd) if row.settled_usd is None else ZERO


def reserved(rows: Iterable[AttemptCost]) -> Decimal:
    """**Reserved**: the sum of ``held_of``, i.e. what budgets hold for attempts not yet settled.
    It equals the jobs' ``reserved_usd`` counters, which admission checks atomically."""
    return total(held_of(r) for r in rows)


def is_waste(row: AttemptCost) -> bool:
    """The attempt ended without a kept clip: the gate rejected it, it failed, or it was
    cancelled. An attempt still under way is not (yet) waste."""
    return row.verdict in WASTED


def waste(rows: Iterable[AttemptCost]) -> Decimal:
    """**Waste**: ``spend_of`` summed over the attempts that ended without a kept clip
    (``is_waste``); the rest of ``spent`` bought kept clips or is still under way."""
    return total(spend_of(r) for r in rows if is_waste(r))


def refund_of(row: AttemptCost) -> Decimal:
    """The part of a clip-less attempt's quote its provider did not charge (0 while unsettled)."""
    if row.settled_usd is None or row.verdict in ATTEMPT_ACCEPTED:
        return ZERO
    return max(ZERO, usd(row.quoted_usd) - usd(row.settled_usd))


def refunded(rows: Iterable[AttemptCost]) -> Decimal:
    return total(refund_of(r) for r in rows)


def uncertain(rows: Iterable[AttemptCost]) -> Decimal:
    """What attempts priced by a billing rule the provider does not document settled at."""
    return total(r.settled_usd for r in rows if r.billing_uncertain)


def declined(commits: Sequence[JobCommit]) -> set[str]:
    """The shots of one preview that a reviewer declined at final and no commit approved: in some
    commit's ``rejected``, in none of its ``shots``."""
    approved = {key for c in commits for key in c.shots}
    return {key for c in commits for key in (c.rejected or [])} - approved


def avoided(commits: Sequence[JobCommit]) -> Decimal:
    """**Avoided** (cost avoided by previews) over the commits of one preview job, oldest first:
    for every ``declined`` shot, what rendering it at final would have cost, as the latest commit
    priced it (``final_usd_by_shot``: the final model's expected cost, retakes included).

    Only shots a reviewer saw and declined count. A shot kept at preview without being declined
    (``JobCommit.kept`` minus ``rejected``) was not reviewed, and a preview never committed was not
    reviewed either: neither counts. A shot declined in one commit and approved in a later one
    counts nothing. Being money not spent, it can exceed the spend (a free preview costs nothing).
    """
    if not commits:
        return ZERO
    prices = commits[-1].final_usd_by_shot or {}
    return total(prices.get(key, 0.0) for key in sorted(declined(commits)))
