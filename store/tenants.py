"""A tenant's spending budget, shared by all its jobs (the job's own budget is on ``Job``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, utcnow


class TenantBudget(Base):
    __tablename__ = "tenant_budget"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    budget_usd: Mapped[float] = mapped_column(Float)
    reserved_usd: Mapped[float] = mapped_column(Float, default=0.0)
    spent_usd: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
