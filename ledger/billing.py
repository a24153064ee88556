"""What a provider charged for an attempt, from its billing rules (``registry`` ``billing``).

``outcome_of_failure`` and ``outcome_of_close`` name how an attempt's provider job ended;
``charge_for`` turns the outcome, the provider's rules, the quote and any charge the provider
reported into what to settle; ``ledger.service.settle_failure``/``settle_close`` book it. Precedence: a charge the provider
reported (Runway's ``cost.credits``) wins, unless it is garbage (``MAX_REPORTED_USD``); else
``free`` settles 0, ``billed`` the quote, and ``unknown`` the quote too, flagged ``uncertain`` on the cost record: like a reservation, an
undocumented charge is assumed to be the worst case, so a budget never overruns the real invoice,
and the cost views show how much of the spend rests on such an assumption.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal

from foundation import money
from registry import BillingOutcome, BillingRules

log = logging.getLogger(__name__)
Basis = Literal["reported", "billed", "free", "unknown", "no_job"]

_STAGES = {"queued": BillingOutcome.CANCEL_QUEUED, "running": BillingOutcome.CANCEL_RUNNING}


@dataclass(frozen=True)
class Charge:
    """What to settle (in whole micro-dollars), the outcome it is for (None: no provider job
    existed) and why."""

    usd: float
    outcome: BillingOutcome | None
    basis: Basis

    @property
    def uncertain(self) -> bool:
        """The amount rests on a rule the provider does not document."""
        return self.basis == "unknown"


def outcome_of_failure(
    kind: str, hint: str | None, *, had_job: bool, was_running: bool
) -> BillingOutcome | None:
    """How a failed attempt's provider job ended. ``kind`` is the error kind, ``hint`` the
    adapter's billing hint (``adapters.errors.ProviderError.billing_hint``), ``had_job`` whether
    the provider accepted a job, ``was_running`` whether a poll had seen it under way. A job the
    provider no longer knows (``job_lost``) is ``lost``: it may have ended any way, success
    (which every provider bills) included, so it settles at the quote, flagged uncertain."""
    if not had_job:  # the create was refused or never answered with a job: nothing to bill
        return None
    if hint == "success":
        return BillingOutcome.SUCCESS
    if hint == "provider_error_5xx":
        return BillingOutcome.PROVIDER_ERROR_5XX
    if hint == "lost":  # given up at its timeout, and the cancel failed: it may still run
        return BillingOutcome.LOST
    if hint == "cancelled" or kind == "timeout":  # a timed-out job is cancelled by the poller
        return outcome_of_close(was_running=was_running)
    if kind == "job_lost":  # it may have succeeded, and been billed, before it was forgotten
        return BillingOutcome.LOST
    if kind == "safety_refusal":
        return BillingOutcome.MODERATION
    return BillingOutcome.FAILURE


def outcome_of_close(*, was_running: bool) -> BillingOutcome:
    """A job cancelled while queued or while running (a poll saw it under way)."""
    return _STAGES["running" if was_running else "queued"]


def charge_for(
    rules: BillingRules,
    outcome: BillingOutcome | None,
    quote_usd: float,
    reported_usd: float | None,
) -> Charge:
    """What to settle for an attempt whose provider job ended with ``outcome``."""
    if outcome is None:
        return Charge(0.0, None, "no_job")
    if reported_usd is not None and _believable(reported_usd):
        return Charge(money.stored(max(0.0, reported_usd)), outcome, "reported")
    rule = rules.rule(outcome)
    if rule == "free":
        return Charge(0.0, outcome, "free")
    return Charge(money.stored(quote_usd), outcome, rule)


MAX_REPORTED_USD = 1_000_000.0
"""A provider's reported charge for one job at or over this (shotline's bound: no generation
costs a million dollars), or one that is not a finite number, is garbage from its JSON: the attempt
settles by the billing rule, as if the provider had reported nothing."""


def _believable(reported_usd: float) -> bool:
    if math.isfinite(reported_usd) and reported_usd < MAX_REPORTED_USD:
        return True
    log.warning("ignoring a reported charge of %r USD; settling by the billing rule", reported_usd)
    return False
