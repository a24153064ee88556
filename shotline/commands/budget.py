"""``shotline budget``: a tenant's spending budget, shared by all its jobs. Spent and reserved are
the ledger's figures (``ledger.tenants.budgets``), the same as ``shotline costs --tenant``; emulated
spend is shown apart and not counted against the budget."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from foundation.money import MAX_BUDGET_USD, cents
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
        usd: Annotated[
            float, typer.Argument(min=0, max=MAX_BUDGET_USD, help="budget in US dollars")
        ],
    ) -> None:
        """Set (or change) a tenant's budget."""
        from api.auth import check_tenant_name
        from foundation.settings import get_settings
        from ledger import tenants
        from store.db import session_scope

        check_tenant_name(tenant, "TENANT")  # an empty or spaced name was stored as a tenant
        with session_scope(get_settings().db_url) as session:
            tenants.set_budget(session, tenant, usd)
            row = next(r for r in tenants.budgets(session) if r["tenant"] == tenant)
        typer.echo(
            f"{row['tenant']}: budget {cents(row['budget_usd'])}, spent {cents(row['spent_usd'])}, "
            f"reserved {cents(row['reserved_usd'])}, headroom {cents(row['headroom_usd'])}"
        )

    @budget.command("show")
    def show(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """Every tenant budget with its reservations and spend."""
        from rich.table import Table

        from foundation.settings import get_settings
        from ledger import tenants
        from shotline.terminal import terminal
        from store.db import session_scope

        with session_scope(get_settings().db_url) as session:
            rows: list[dict[str, Any]] = tenants.budgets(session)
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        table = Table(
            title="tenant budgets",
            caption="emulated: spend on emulated providers, not counted against the budget",
        )
        for column in ("tenant", "budget", "reserved", "spent", "headroom", "emulated"):
            table.add_column(column, justify="left" if column == "tenant" else "right")
        for row in rows:
            table.add_row(row["tenant"], *(cents(row[k]) for k in
                          ("budget_usd", "reserved_usd", "spent_usd", "headroom_usd",
                           "emulated_usd")))  # fmt: skip
        terminal().print(table)
