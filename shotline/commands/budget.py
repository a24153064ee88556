"""``shotline budget``: a tenant's spending budget, shared by all its jobs."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from shotline.group import ShotlineGroup


def register(app: typer.Typer) -> None:
    budget = typer.Typer(
        cls=ShotlineGroup,
        help="Tenant budgets (every attempt reserves against its job's and tenant's).",
    )
    app.add_typer(budget, name="budget")

    @budget.command("set")
    def set_budget(
        tenant: Annotated[str, typer.Argument(help="tenant name (local for the CLI's own jobs)")],
        usd: Annotated[float, typer.Argument(min=0, help="budget in US dollars")],
    ) -> None:
        """Set (or change) a tenant's budget."""
        from foundation.settings import get_settings
        from ledger import tenants
        from store.db import session_scope

        with session_scope(get_settings().db_url) as session:
            row = tenants.set_budget(session, tenant, usd)
            typer.echo(f"{row.tenant}: budget ${row.budget_usd:.2f}, spent ${row.spent_usd:.2f}")

    @budget.command("show")
    def show(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """Every tenant budget with its reservations and spend."""
        from rich.console import Console
        from rich.table import Table
        from sqlalchemy import select

        from foundation.settings import get_settings
        from store.db import session_scope
        from store.tenants import TenantBudget

        with session_scope(get_settings().db_url) as session:
            rows: list[dict[str, Any]] = [
                {"tenant": r.tenant, "budget_usd": r.budget_usd, "reserved_usd": r.reserved_usd,
                 "spent_usd": r.spent_usd, "headroom_usd": r.budget_usd - r.reserved_usd - r.spent_usd}
                for r in session.scalars(select(TenantBudget).order_by(TenantBudget.tenant))
            ]  # fmt: skip
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        table = Table(title="tenant budgets")
        for column in ("tenant", "budget", "reserved", "spent", "headroom"):
            table.add_column(column, justify="left" if column == "tenant" else "right")
        for row in rows:
            table.add_row(row["tenant"], *(f"${row[k]:.2f}" for k in
                          ("budget_usd", "reserved_usd", "spent_usd", "headroom_usd")))  # fmt: skip
        Console().print(table)
