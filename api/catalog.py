"""``/v1/models`` (the registry with lifecycle and prices) and ``/v1/costs`` (the caller's
aggregates from the ledger)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from api.deps import StateDep, TenantDep
from api.errors import AUTH, responses
from api.schemas import CostRow, CostsRead, ModelsRead
from store.db import session_scope
from store.models import Job, LedgerEntry

router = APIRouter(prefix="/v1", tags=["catalog"])


@router.get("/models", response_model=ModelsRead, responses=responses(*AUTH))
def models(state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    registry = state.ctx.registry
    data = registry.to_dict()
    today = date.today()
    for entry, spec in zip(data["models"], registry.models, strict=True):
        entry["status"] = str(spec.lifecycle.status(today))
    return {"models": data["models"], "fallback_chains": data["fallback_chains"]}


@router.get("/costs", response_model=CostsRead, responses=responses(*AUTH, 422))
def costs(
    state: StateDep,
    tenant: TenantDep,
    since: Annotated[datetime | None, Query(description="only jobs created at or after")] = None,
) -> CostsRead:
    with session_scope(state.db_url) as session:
        jobs = select(Job.id).where(Job.tenant == tenant)
        if since is not None:
            jobs = jobs.where(Job.created_at >= since)
        job_ids = jobs.scalar_subquery()
        rows = session.execute(
            select(
                LedgerEntry.model_id,
                LedgerEntry.provider,
                func.count(LedgerEntry.id),
                func.coalesce(func.sum(LedgerEntry.amount_usd), 0.0),
            )
            .where(LedgerEntry.kind == "settle", LedgerEntry.job_id.in_(jobs))
            .group_by(LedgerEntry.model_id, LedgerEntry.provider)
            .order_by(LedgerEntry.model_id)
        ).all()
        count = session.scalar(select(func.count()).select_from(jobs.subquery())) or 0
        reserved = session.scalar(
            select(func.coalesce(func.sum(Job.reserved_usd), 0.0)).where(Job.id.in_(job_ids))
        )
    by_model = [
        CostRow(model=m, provider=p, attempts=int(n), settled_usd=round(float(s), 4))
        for m, p, n, s in rows
    ]
    return CostsRead(
        tenant=tenant,
        jobs=int(count),
        settled_usd=round(sum(r.settled_usd for r in by_model), 4),
        reserved_usd=round(float(reserved or 0.0), 4),
        by_model=by_model,
    )
