"""Billing rules as data: per provider, whether it charges for each way a job can end.

``models.yaml`` ``providers.<p>.billing`` gives, for every ``BillingOutcome``, one of ``billed``
(the provider charges the job, settled at the quote unless it reported its own charge), ``free``
(it charges nothing) or ``unknown`` (not documented; the ledger settles it as billed and flags the
charge as uncertain, see ``ledger.billing``). Every rule that is not ``unknown`` needs a source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class BillingOutcome(StrEnum):
    """How a provider job ended, as far as billing is concerned."""

    SUCCESS = "success"
    MODERATION = "moderation"
    FAILURE = "failure"
    PROVIDER_ERROR_5XX = "provider_error_5xx"
    CANCEL_QUEUED = "cancel_queued"
    CANCEL_RUNNING = "cancel_running"
    LOST = "lost"
    """How the job ended is unknown, success included: the provider no longer knows it
    (``adapters.errors.JobLostError``), or it was given up at its timeout and its cancel failed
    (it may still run, and be billed). No provider documents a rule for it: always ``unknown``
    (not settable in ``models.yaml``)."""


Rule = Literal["billed", "free", "unknown"]


@dataclass(frozen=True)
class BillingRules:
    """One provider's rules; an outcome not listed is ``unknown``."""

    rules: dict[BillingOutcome, Rule] = field(default_factory=dict)
    source: str = ""
    checked_on: date | None = None
    notes: str = ""

    def rule(self, outcome: BillingOutcome) -> Rule:
        return self.rules.get(outcome, "unknown")

    def to_dict(self) -> dict[str, object]:
        return {
            **{str(o): self.rule(o) for o in BillingOutcome},
            "source": self.source,
            "checked_on": self.checked_on.isoformat() if self.checked_on else None,
            "notes": self.notes,
        }


UNKNOWN_BILLING = BillingRules()
"""The rules of a provider without a ``billing`` entry: every outcome unknown."""


class BillingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    success: Rule = "billed"
    moderation: Rule = "unknown"
    failure: Rule = "unknown"
    provider_error_5xx: Rule | None = None
    """A job the provider ended with its own server error; omitted: same as ``failure``."""
    cancel_queued: Rule = "unknown"
    cancel_running: Rule = "unknown"
    source: str | None = Field(default=None, min_length=3)
    checked_on: date | None = None
    notes: str = ""

    @model_validator(mode="after")
    def _sourced(self) -> Self:
        known = [r for r in self._rules().values() if r != "unknown"]
        if known and not self.source:
            raise ValueError("billing rules other than unknown need a source")
        return self

    def _rules(self) -> dict[BillingOutcome, Rule]:
        return {
            BillingOutcome.SUCCESS: self.success,
            BillingOutcome.MODERATION: self.moderation,
            BillingOutcome.FAILURE: self.failure,
            BillingOutcome.PROVIDER_ERROR_5XX: self.provider_error_5xx or self.failure,
            BillingOutcome.CANCEL_QUEUED: self.cancel_queued,
            BillingOutcome.CANCEL_RUNNING: self.cancel_running,
        }

    def build(self) -> BillingRules:
        return BillingRules(self._rules(), self.source or "", self.checked_on, self.notes)
