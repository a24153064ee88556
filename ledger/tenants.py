"""Tenant budgets: the same atomic conditional UPDATE as a job's budget, on the tenant's row.
A tenant without a row has no budget of its own."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.tenants import TenantBudget


def set_budget(session: Session, tenant: str, budget_usd: float) -> TenantBudget:
    row = session.get(TenantBudget, tenant)
    if row is None:
        row = TenantBudget(tenant=tenant, budget_usd=budget_usd, reserved_usd=0.0, spent_usd=0.0)
        session.add(row)
    else:
        row.budget_usd = budget_usd
    session.flush()
    return row


def reserve(session: Session, tenant: str, amount: float) -> bool:
    """Reserve ``amount`` against the tenant's budget; True when it fits or there is none."""
    if session.scalar(select(TenantBudget.tenant).where(TenantBudget.tenant == tenant)) is None:
        return True
    fits = (
        TenantBudget.spent_usd + TenantBudget.reserved_usd + amount
        <= TenantBudget.budget_usd + 1e-9
    )
    result = session.execute(
        update(TenantBudget)
        .where(TenantBudget.tenant == tenant, fits)
        .values(reserved_usd=TenantBudget.reserved_usd + amount)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def settle(session: Session, tenant: str, reserved: float, cost: float) -> None:
    """Release ``reserved`` and book ``cost`` on the tenant's row, if it has one."""
    session.execute(
        update(TenantBudget)
        .where(TenantBudget.tenant == tenant)
        .values(
            reserved_usd=TenantBudget.reserved_usd - reserved,
            spent_usd=TenantBudget.spent_usd + cost,
        )
        .execution_options(synchronize_session=False)
    )
