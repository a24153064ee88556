"""Booking a storyboard draft: spend outside a job (``store.drafts.DraftCost``).

A draft's cost is what its language-model answers cost (tokens x the registry's usage price),
failed and repaired answers included. It is recorded whatever the outcome and, unless the draft
ran on emulated providers, added to the tenant's spend (``tenants.settle`` with nothing reserved).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from foundation import money
from foundation.errors import BudgetExceededError
from ledger import tenants
from ledger.tenants import drafts_spent
from store.drafts import DraftCost
from store.tenants import TenantBudget

if TYPE_CHECKING:
    from ledger.aggregates import CostFilter


def admit_draft(session: Session, tenant: str, quote_usd: float, model_id: str) -> None:
    """Refuse a draft on real providers, before its first request, when its quote (``model_id``'s
    estimate) does not fit what the tenant's budget has left: the condition ``tenants.reserve``
    puts to a job's attempt. Nothing is held (``book_draft`` books the cost afterwards), so
    drafts started at the same moment are each checked against the same headroom."""
    if tenants.has_room(session, tenant, quote_usd):
        return
    row = session.get_one(TenantBudget, tenant)
    left = max(row.budget_usd - row.spent_usd - row.reserved_usd, 0.0)
    raise BudgetExceededError(
        f"drafting with {model_id} is quoted at ${quote_usd:.4f}; the budget of tenant "
        f"{tenant!r} (${row.budget_usd:.2f}) has ${left:.2f} left"
    )


def book_draft(
    session: Session,
    tenant: str,
    summary: dict[str, Any],
    *,
    provider: str,
    emulated: bool,
    valid: bool,
    row_id: int | None = None,
) -> DraftCost:
    """Record ``summary`` (``DraftResult.to_dict()``) and book its cost on ``tenant``: a new row,
    or ``row_id``'s, booked as the draft's earlier rounds came in (its spend grows by the
    difference), so that a process killed between rounds has booked the answers it paid for."""
    rounds = summary.get("rounds") or []
    amount = float(money.stored(summary.get("cost_usd") or 0.0))
    row = session.get_one(DraftCost, row_id) if row_id is not None else None
    before = row.amount_usd if row is not None else 0.0
    if row is None:
        row = DraftCost(tenant=tenant, provider=provider, emulated=emulated)
        session.add(row)
    row.model_id = str(summary.get("model") or "")
    row.provider = provider or row.provider
    row.rounds = len(rounds)
    row.input_tokens = sum(int(r.get("input_tokens") or 0) for r in rounds)
    row.output_tokens = sum(int(r.get("output_tokens") or 0) for r in rounds)
    row.amount_usd, row.valid, row.detail = amount, valid, summary
    row.uncertain = bool(summary.get("cost_uncertain"))
    grown = float(money.stored(money.usd(amount) - money.usd(before)))
    if not emulated and grown:
        tenants.settle(session, tenant, 0.0, grown)
    session.flush()
    return row


def draft_costs(session: Session, flt: CostFilter, *, emulated: bool) -> dict[str, Any]:
    """What ``flt``'s storyboard drafts cost, by model (money summed exactly, ``money.total``):
    the spend outside jobs that ``costs`` and ``GET /v1/costs`` list beside the attempts. A
    filter on jobs selects no draft."""
    rows = [] if flt.job_ids is not None else list(session.scalars(_selected(flt, emulated)))
    by_model: dict[str, list[DraftCost]] = {}
    for row in rows:
        by_model.setdefault(row.model_id, []).append(row)
    groups = [_group(model, drafts) for model, drafts in by_model.items()]
    groups.sort(key=lambda g: (-float(g["spend_usd"] or 0), g["model"]))
    return {
        "drafts": len(rows),
        "spend_usd": money.to_json(money.total(r.amount_usd for r in rows)),
        "by_model": groups,
    }


def _group(model: str, drafts: list[DraftCost]) -> dict[str, Any]:
    return {
        "model": model,
        "drafts": len(drafts),
        "valid": sum(1 for d in drafts if d.valid),
        "rounds": sum(d.rounds for d in drafts),
        "input_tokens": sum(d.input_tokens for d in drafts),
        "output_tokens": sum(d.output_tokens for d in drafts),
        "spend_usd": money.to_json(money.total(d.amount_usd for d in drafts)),
        "uncertain": any(d.uncertain for d in drafts),
    }


def _selected(flt: CostFilter, emulated: bool) -> Select[Any]:
    query = select(DraftCost).where(DraftCost.emulated.is_(emulated))
    return flt.limit(query, DraftCost.tenant, DraftCost.created_at)


__all__ = ["admit_draft", "book_draft", "draft_costs", "drafts_spent"]
