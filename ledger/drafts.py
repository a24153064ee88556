"""Booking a storyboard draft: spend outside a job (``store.drafts.DraftCost``).

A draft's cost is what its language-model answers cost (tokens x the registry's usage price),
failed and repaired answers included. It is recorded whatever the outcome and, unless the draft
ran on emulated providers, added to the tenant's spend (``tenants.settle`` with nothing reserved).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from foundation import money
from ledger import tenants
from ledger.tenants import drafts_spent
from store.drafts import DraftCost


def book_draft(
    session: Session,
    tenant: str,
    summary: dict[str, Any],
    *,
    provider: str,
    emulated: bool,
    valid: bool,
) -> DraftCost:
    """Record ``summary`` (``DraftResult.to_dict()``) and book its cost on ``tenant``."""
    rounds = summary.get("rounds") or []
    amount = float(money.stored(summary.get("cost_usd") or 0.0))
    row = DraftCost(
        tenant=tenant,
        model_id=str(summary.get("model") or ""),
        provider=provider,
        rounds=len(rounds),
        input_tokens=sum(int(r.get("input_tokens") or 0) for r in rounds),
        output_tokens=sum(int(r.get("output_tokens") or 0) for r in rounds),
        amount_usd=amount,
        uncertain=bool(summary.get("cost_uncertain")),
        emulated=emulated,
        valid=valid,
        detail=summary,
    )
    session.add(row)
    if not emulated and amount:
        tenants.settle(session, tenant, 0.0, amount)
    session.flush()
    return row


__all__ = ["book_draft", "drafts_spent"]
