"""Budget reservations and settlements.

Before every submit the attempt's worst-case quote is reserved with one conditional UPDATE, which is
atomic on SQLite and PostgreSQL alike: concurrent shots can never push a job past its budget. On
completion the reservation is released and the real cost settled. Every attempt also has one
per-attempt cost record (``ledger.records``) that these functions keep up to date. Amounts are
quantized to micro-dollars as they are booked (``foundation.money``). A job on the emulated
providers keeps its own budget but does not touch its tenant's (``ledger.tenants``).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from adapters.errors import ProviderError
from foundation import money
from ledger import billing, records, tenants
from ledger.figures import in_micro, released
from ledger.finals import finals_use
from registry import BillingOutcome, BillingRules
from store.models import Attempt, Job, LedgerEntry

_FINALS_SPENT, _FINALS_HELD = finals_use(Job.id)
_USED = Job.spent_usd + Job.reserved_usd + _FINALS_SPENT + _FINALS_HELD
"""What a job's budget has given out: its own spend and holds, and (a preview's) its finals'."""


def reserve(session: Session, job_id: str, attempt: Attempt) -> bool:
    """Reserve ``attempt.quoted_usd`` against the job's budget (a preview's also holds what its
    commits' finals use: ``ledger.finals``); False when it does not fit."""
    amount = attempt.quoted_usd
    fits = (Job.budget_usd.is_(None)) | (_USED + amount <= Job.budget_usd + 1e-9)
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, fits)
        .values(reserved_usd=in_micro(Job.reserved_usd + amount))
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    tenant, emulated = _owner(session, job_id)
    if not emulated and not tenants.reserve(session, tenant, amount):
        _unreserve_job(session, job_id, amount)  # same transaction: nothing was reserved
        return False
    _entry(session, job_id, tenant, attempt, "reserve", amount)
    records.open_record(session, attempt, reserved_usd=amount)
    return True


def _owner(session: Session, job_id: str) -> tuple[str, bool]:
    """The job's tenant and whether it runs on the emulated providers."""
    found = session.execute(select(Job.tenant, Job.providers).where(Job.id == job_id)).first()
    if found is None:
        return "local", False
    return found.tenant or "local", found.providers == "emulated"


def _unreserve_job(session: Session, job_id: str, amount: float) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(reserved_usd=released(session, Job.reserved_usd, amount))
        .execution_options(synchronize_session=False)
    )


def settle(
    session: Session,
    job_id: str,
    attempt: Attempt,
    cost_usd: float,
    charge: billing.Charge | None = None,
) -> None:
    """Release the attempt's reservation and book its real cost (0 when the provider did not bill).
    ``charge`` (from ``ledger.billing``) records which billing rule the cost came from."""
    if attempt.settled_usd is not None:
        return
    cost_usd = money.stored(cost_usd)
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            reserved_usd=released(session, Job.reserved_usd, attempt.quoted_usd),
            spent_usd=in_micro(Job.spent_usd + cost_usd),
        )
        .execution_options(synchronize_session=False)
    )
    attempt.settled_usd = cost_usd
    tenant, emulated = _owner(session, job_id)
    if not emulated:
        tenants.settle(session, tenant, attempt.quoted_usd, cost_usd)
    _entry(session, job_id, tenant, attempt, "release", -attempt.quoted_usd)
    _entry(session, job_id, tenant, attempt, "settle", cost_usd)
    records.note_settle(session, attempt, cost_usd, charge)


def settle_outcome(
    session: Session,
    job_id: str,
    attempt: Attempt,
    rules: BillingRules,
    outcome: BillingOutcome | None,
    reported_usd: float | None = None,
) -> billing.Charge:
    """Settle the attempt at what its provider charged for ``outcome`` (see ``billing.charge_for``)."""
    charge = billing.charge_for(rules, outcome, attempt.quoted_usd, reported_usd)
    settle(session, job_id, attempt, charge.usd, charge=charge)
    return charge


def settle_failure(
    session: Session,
    job_id: str,
    attempt: Attempt,
    rules: BillingRules,
    error: ProviderError,
    *,
    was_running: bool,
    had_job: bool | None = None,
) -> billing.Charge:
    """Settle an attempt that failed with ``error`` (see ``billing.outcome_of_failure``).
    ``had_job``: whether the provider had a job for it (None: whether the attempt has a provider
    job id; a stage try's synchronous call that failed after its 200 has none, yet generated)."""
    outcome = billing.outcome_of_failure(
        error.kind,
        error.billing_hint,
        had_job=bool(attempt.provider_job_id) if had_job is None else had_job,
        was_running=was_running,
    )
    return settle_outcome(session, job_id, attempt, rules, outcome, error.charged_usd)


def settle_close(
    session: Session, job_id: str, attempt: Attempt, rules: BillingRules, *, was_running: bool
) -> billing.Charge:
    """Settle an attempt its job closed: a cancellation at the stage it had reached, or nothing
    when the provider never had a job."""
    outcome = billing.outcome_of_close(was_running=was_running) if attempt.provider_job_id else None
    return settle_outcome(session, job_id, attempt, rules, outcome)


def settle_late_job(
    session: Session, job_id: str, attempt: Attempt, rules: BillingRules
) -> billing.Charge:
    """Settle an attempt its job closed while its create was in flight, once the create answers
    with a provider job (cancelled now, while queued): closing found no job and settled nothing,
    so the difference to what the provider charges for the cancelled job is booked on top."""
    outcome = billing.outcome_of_close(was_running=False)
    return _settle_again(
        session, job_id, attempt, billing.charge_for(rules, outcome, attempt.quoted_usd, None)
    )


def settle_answered_after_close(
    session: Session, job_id: str, attempt: Attempt, rules: BillingRules, cost_usd: float
) -> billing.Charge:
    """Settle a stage try (a sheet, keyframe, voice or music) its job closed while the model
    worked, once the model answers with its output: the model made it, so it costs what it costs
    (``success`` at ``cost_usd``), not what the close settled for a job it took as unstarted."""
    charge = billing.charge_for(rules, BillingOutcome.SUCCESS, cost_usd, None)
    return _settle_again(session, job_id, attempt, charge)


def _settle_again(
    session: Session, job_id: str, attempt: Attempt, charge: billing.Charge
) -> billing.Charge:
    """Settle ``attempt`` at ``charge``; settled already, the difference is booked on top."""
    if attempt.settled_usd is None:
        settle(session, job_id, attempt, charge.usd, charge=charge)
        return charge
    extra = money.stored(money.usd(charge.usd) - money.usd(attempt.settled_usd))
    book(session, job_id, attempt, "settle", extra)
    attempt.settled_usd = charge.usd
    records.note_settle(session, attempt, charge.usd, charge)
    return charge


def book(session: Session, job_id: str, attempt: Attempt, kind: str, amount: float) -> None:
    """Book a cost that comes on top of an attempt's render (e.g. ``judge``) straight to spend."""
    amount = money.stored(amount)
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(spent_usd=in_micro(Job.spent_usd + amount))
        .execution_options(synchronize_session=False)
    )
    tenant, emulated = _owner(session, job_id)
    if not emulated:
        tenants.settle(session, tenant, 0.0, amount)
    _entry(session, job_id, tenant, attempt, kind, amount)
    if kind == "judge":
        records.note_judge(session, attempt, amount)


def _entry(
    session: Session, job_id: str, tenant: str, attempt: Attempt, kind: str, amount: float
) -> None:
    session.add(
        LedgerEntry(
            job_id=job_id,
            tenant=tenant,
            attempt_id=attempt.id,
            model_id=attempt.model_id,
            provider=attempt.provider,
            kind=kind,
            amount_usd=amount,
        )
    )
