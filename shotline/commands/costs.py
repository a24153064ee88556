"""``shotline costs``: the ledger's aggregates from the local database (every tenant), grouped by
model, provider, tenant, job or day; the same figures as ``GET /v1/costs`` (``ledger.report``).
Emulated spend is listed apart, in rows marked ``(emulated)``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from foundation.errors import InvalidInputError, Problem
from foundation.money import cents

if TYPE_CHECKING:
    from ledger.aggregates import CostFilter, GroupBy
    from shotline.tables import Fitted

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
    from ledger import report
    from pipeline.commit_versions import refresh_agreements
    from store.db import session_scope

    refresh_agreements(db_url, flt.tenant)
    with session_scope(db_url) as session:
        return {"group_by": by} | report.cost_view(session, flt, {"groups": by})


def _cell(value: Any, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


PRIORITY = {
    "spend": 0,
    "waste": 1,
    "$/accepted s": 2,
    "accepted s": 3,
    "accept": 4,
    "refuse": 6,
    "p95 s": 7,
    "fallbacks": 8,
    "p50 s": 9,
    "refunded": 10,
    "uncertain": 11,
}
"""Which columns stay when the terminal is narrow (0 always); the group key stays too, and
``attempts`` ranks 5. Money cells are never wrapped nor cut."""


def _drafts_line(drafts: dict[str, Any] | None, where: str) -> str:
    """Storyboard drafts are spend outside any job: one caption line, by model."""
    if not drafts or not drafts["drafts"]:
        return ""
    models = ", ".join(
        f"{g['model']} {cents(g['spend_usd'])} ({g['drafts']})" for g in drafts["by_model"]
    )
    count = drafts["drafts"]
    return (
        f"\nstoryboard drafts{where}: {count} draft{'s' if count > 1 else ''}, "
        f"{cents(drafts['spend_usd'])} outside jobs: {models}"
    )


def _preview_line(preview: dict[str, Any]) -> str:
    """How previews became finals (the emulated line said only the cost avoided: its commits and
    declined shots were left out)."""
    return (
        f"previews committed: {preview['previews']}, conversion "
        f"{_cell(preview['conversion_rate'], '{:.1%}')}, cost avoided "
        f"{cents(preview['cost_avoided_usd'])} ({preview['declined_shots']} shots declined on "
        f"review), agreement {_cell(preview['agreement_rate'], '{:.1%}')}"
    )


def costs_table(data: dict[str, Any], width: int | None = None) -> Fitted:
    from rich.markup import escape

    from shotline.tables import Column, fit_table

    caption = _preview_line(data["preview"])
    caption += _drafts_line(data.get("drafts"), "")
    emulated = data["emulated"]
    caption += _drafts_line(emulated.get("drafts"), " on emulated providers (no money spent)")
    if emulated["totals"]["attempts"]:
        caption += (
            f"\nemulated: {cents(data['emulated_usd'])} on emulated providers (no money spent, "
            f"not counted against budgets); {_preview_line(emulated['preview'])}"
        )
    columns = [Column(data["group_by"]), Column("attempts", priority=5, justify="right")]
    columns += [Column(title, priority=PRIORITY[title], justify="right") for title, _, _ in COLUMNS]
    rows = []
    real = [*data["groups"], data["totals"]]
    for row in real if data["totals"]["attempts"] or not emulated["totals"]["attempts"] else []:
        cells = [escape(str(row["key"])), str(row["attempts"])]
        cells += [_cell(row[field], pattern) for _, field, pattern in COLUMNS]
        rows.append([f"[bold]{c}[/]" for c in cells] if row is data["totals"] else cells)
    for row in [*emulated["groups"], emulated["totals"]] if emulated["totals"]["attempts"] else []:
        cells = [f"{escape(str(row['key']))} (emulated)", str(row["attempts"])]
        cells += [_cell(row[field], pattern) for _, field, pattern in COLUMNS]
        rows.append([f"[dim]{c}[/]" for c in cells])
    return fit_table(columns, rows, width, title=f"costs by {data['group_by']}", caption=caption)


def register(app: typer.Typer) -> None:
    @app.command()
    def costs(
        by: Annotated[str, typer.Option("--by", help=" | ".join(GROUPS))] = "model",
        since: Annotated[
            str | None, typer.Option("--from", help="ISO date (UTC), inclusive")
        ] = None,
        until: Annotated[str | None, typer.Option("--to", help="ISO date (UTC), exclusive")] = None,
        tenant: Annotated[str | None, typer.Option(help="one tenant only")] = None,
        wide: Annotated[bool, typer.Option("--wide", help="every column, however narrow")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Spend, accepted seconds, cost per accepted second, rates and render times."""
        from foundation.settings import get_settings
        from ledger.aggregates import CostFilter
        from shotline.tables import left_out_note, print_wide
        from shotline.terminal import terminal

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
        elif wide:
            print_wide(costs_table(data).table)
        else:
            console = terminal()
            fitted = costs_table(data, console.width)
            console.print(fitted.table)
            note = left_out_note(fitted, console.width)
            if note:
                console.print(note)
