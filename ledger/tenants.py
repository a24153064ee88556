"""Tenant budgets: the same atomic conditional UPDATE as a job's budget, on the tenant's row.
A tenant without a row has no budget of its own.

A tenant budget is real money: attempts of jobs on the emulated providers neither reserve against
it nor count as its spend (``ledger.service`` skips them; their job's own budget still applies).
The row's ``spent_usd``/``reserved_usd`` are counters for admission; setting a budget brings them
in line with the ledger (``figures.spent``/``figures.reserved`` of the tenant's real records), so a
budget set after some spend counts that spend, and ``budgets`` reports the ledger's figures.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, update
from sqlalchemy.orm import Session

from foundation.money import to_json, usd
from ledger import figures
from ledger.figures import in_micro, released
from store.drafts import DraftCost
from store.models import AttemptCost
from store.tenants import TenantBudget


def set_budget(session: Session, tenant: str, budget_usd: float) -> TenantBudget:
    """Create or change ``tenant``'s budget and bring its counters in line with the ledger."""
    row = session.get(TenantBudget, tenant)
    if row is None:
        row = TenantBudget(tenant=tenant, budget_usd=budget_usd, reserved_usd=0.0, spent_usd=0.0)
        session.add(row)
    else:
        row.budget_usd = budget_usd
    session.flush()
    _sync(session, tenant)
    session.refresh(row)
    return row


def _sync(session: Session, tenant: str) -> None:
    """One UPDATE whose subqueries read the ledger, so a concurrent settlement is not lost
    between reading the sums and writing them."""
    mine = and_(AttemptCost.tenant == tenant, AttemptCost.emulated.is_(False))
    spent = (
        select(func.coalesce(func.sum(func.coalesce(AttemptCost.settled_usd, 0.0)), 0.0))
        .where(mine)
        .scalar_subquery()
    ) + select(func.coalesce(func.sum(AttemptCost.judge_usd), 0.0)).where(mine).scalar_subquery()
    # storyboard drafts spend outside any job (``ledger.drafts``)
    spent = spent + _drafts_total(tenant, emulated=False).scalar_subquery()
    reserved = (
        select(func.coalesce(func.sum(AttemptCost.reserved_usd), 0.0))
        .where(mine, AttemptCost.settled_usd.is_(None))
        .scalar_subquery()
    )
    session.execute(
        update(TenantBudget)
        .where(TenantBudget.tenant == tenant)
        .values(spent_usd=spent, reserved_usd=reserved)
        .execution_options(synchronize_session=False)
    )


def budgets(session: Session) -> list[dict[str, Any]]:
    """Every tenant budget with the ledger's figures of the tenant, JSON-ready: ``spent_usd`` and
    ``reserved_usd`` (real money, ``ledger.figures``), ``headroom_usd`` (budget - spent -
    reserved) and ``emulated_usd`` (emulated spend, not counted against the budget)."""
    out = []
    for row in session.scalars(select(TenantBudget).order_by(TenantBudget.tenant)):
        records = session.scalars(select(AttemptCost).where(AttemptCost.tenant == row.tenant))
        real, emulated = figures.split(records)
        reserved = figures.reserved(real)
        spent = figures.spent(real) + usd(drafts_spent(session, row.tenant))
        drafted = usd(drafts_spent(session, row.tenant, emulated=True))
        out.append(
            {
                "tenant": row.tenant,
                "budget_usd": to_json(row.budget_usd),
                "reserved_usd": to_json(reserved),
                "spent_usd": to_json(spent),
                "headroom_usd": to_json(usd(row.budget_usd) - spent - reserved),
                "emulated_usd": to_json(figures.spent(emulated) + drafted),
            }
        )
    return out


def _drafts_total(tenant: str, *, emulated: bool) -> Select[float]:
    return select(func.coalesce(func.sum(DraftCost.amount_usd), 0.0)).where(
        DraftCost.tenant == tenant, DraftCost.emulated.is_(emulated)
    )


def drafts_spent(session: Session, tenant: str, *, emulated: bool = False) -> float:
    """What the tenant's storyboard drafts cost (``draft_cost``; real or emulated): spend outside
    any job, part of the tenant's spent figure wherever it is shown or enforced."""
    return float(session.scalar(_drafts_total(tenant, emulated=emulated)) or 0.0)


def _fits(amount: float) -> ColumnElement[bool]:
    """The budget row has room for ``amount`` more (what it spent and holds, plus ``amount``)."""
    return (
        TenantBudget.spent_usd + TenantBudget.reserved_usd + amount
        <= TenantBudget.budget_usd + 1e-9
    )


def has_room(session: Session, tenant: str, amount: float) -> bool:
    """Whether ``reserve`` would take ``amount`` now (True when the tenant has no budget)."""
    row = session.execute(select(_fits(amount)).where(TenantBudget.tenant == tenant)).first()
    return row is None or bool(row[0])


def reserve(session: Session, tenant: str, amount: float) -> bool:
    """Reserve ``amount`` against the tenant's budget; True when it fits or there is none."""
    if session.scalar(select(TenantBudget.tenant).where(TenantBudget.tenant == tenant)) is None:
        return True
    result = session.execute(
        update(TenantBudget)
        .where(TenantBudget.tenant == tenant, _fits(amount))
        .values(reserved_usd=in_micro(TenantBudget.reserved_usd + amount))
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def settle(session: Session, tenant: str, reserved: float, cost: float) -> None:
    """Release ``reserved`` and book ``cost`` on the tenant's row, if it has one."""
    session.execute(
        update(TenantBudget)
        .where(TenantBudget.tenant == tenant)
        .values(
            reserved_usd=released(session, TenantBudget.reserved_usd, reserved),
            spent_usd=in_micro(TenantBudget.spent_usd + cost),
        )
        .execution_options(synchronize_session=False)
    )
