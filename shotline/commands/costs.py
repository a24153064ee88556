"""``shotline costs``: the ledger's aggregates from the local database (every tenant), grouped by
model, provider, tenant, job or day; the same figures as ``GET /v1/costs``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from foundation.errors import InvalidInputError, Problem

if TYPE_CHECKING:
    from rich.table import Table

    from ledger.aggregates import CostFilter, GroupBy

# ledger.aggregates.GROUPS spelt out, so that `--help` loads no database (a test keeps them equal)
GROUPS: tuple[GroupBy, ...] = ("model", "provider", "tenant", "job", "day")

COLUMNS = (
    ("spend", "spend_usd", "${:.4f}"),
    ("waste", "waste_usd", "${:.4f}"),
    ("refunded", "refunded_usd", "${:.4f}"),
    ("uncertain", "uncertain_usd", "${:.4f}"),
    ("accepted s", "seconds_accepted", "{:.1f}"),
    ("$/accepted s", "cost_per_accepted_second", "${:.4f}"),
    ("accept", "acceptance_rate", "{:.1%}"),
    ("refuse", "refusal_rate", "{:.1%}"),
    ("fallbacks", "fallbacks", "{}"),
    ("p50 s", "render_p50_s", "{:.1f}"),
    ("p95 s", "render_p95_s", "{:.1f}"),
)


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"--{name} is not an ISO date", [Problem(name, f"{value!r}: use e.g. 2026-11-01")]
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def collect(db_url: str, by: GroupBy, flt: CostFilter) -> dict[str, Any]:
    from ledger import aggregates
    from pipeline.commit_versions import refresh_agreements
    from store.db import session_scope

    refresh_agreements(db_url, flt.tenant)
    with session_scope(db_url) as session:
        rows = aggregates.load(session, flt)
        preview = aggregates.preview_stats(session, flt)
    return {
        "group_by": by,
        "totals": aggregates.summarise("all", rows).to_dict(),
        "groups": [g.to_dict() for g in aggregates.group(rows, by)],
        "preview": preview.to_dict(),
    }


def _cell(value: Any, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def costs_table(data: dict[str, Any]) -> Table:
    from rich.table import Table

    preview = data["preview"]
    caption = (
        f"previews committed: {preview['previews']}, conversion "
        f"{_cell(preview['conversion_rate'], '{:.1%}')}, cost avoided "
        f"${preview['cost_avoided_usd']:.2f}, agreement {_cell(preview['agreement_rate'], '{:.1%}')}"
    )
    table = Table(title=f"costs by {data['group_by']}", caption=caption)
    table.add_column(data["group_by"])
    table.add_column("attempts", justify="right")
    for title, _, _ in COLUMNS:
        table.add_column(title, justify="right")
    for row in [*data["groups"], data["totals"]]:
        cells = [_cell(row[field], pattern) for _, field, pattern in COLUMNS]
        style = "bold" if row is data["totals"] else None
        table.add_row(row["key"], str(row["attempts"]), *cells, style=style)
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def costs(
        by: Annotated[str, typer.Option("--by", help=" | ".join(GROUPS))] = "model",
        since: Annotated[
            str | None, typer.Option("--from", help="ISO date (UTC), inclusive")
        ] = None,
        until: Annotated[str | None, typer.Option("--to", help="ISO date (UTC), exclusive")] = None,
        tenant: Annotated[str | None, typer.Option(help="one tenant only")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Spend, accepted seconds, cost per accepted second, rates and render times."""
        from rich.console import Console

        from foundation.settings import get_settings
        from ledger.aggregates import CostFilter

        if by not in GROUPS:
            typer.echo(f"--by must be one of {', '.join(GROUPS)}", err=True)
            raise typer.Exit(2)
        try:
            flt = CostFilter(tenant=tenant, since=_when(since, "from"), until=_when(until, "to"))
        except InvalidInputError as exc:
            typer.echo(f"error: {exc.summary}: {exc.problems[0].message}", err=True)
            raise typer.Exit(2) from None
        data = collect(get_settings().db_url, by, flt)
        if as_json:
            typer.echo(json.dumps(data, indent=2))
        else:
            Console().print(costs_table(data))
