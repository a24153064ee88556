"""One seeded money history (``tests.ledger.history``: two tenants, real and emulated jobs, waste,
judge fees, a held reservation, preview commits reviewed and not), and every view of it:
``shotline costs``, ``shotline budget show``, ``GET /v1/costs``, ``GET /v1/dashboard``, the job
reports and ``/metrics`` show the same spent, reserved, waste, avoided and emulated figures,
exactly, with no float drift in any JSON."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
import typer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from typer.testing import CliRunner

from api import auth
from foundation.money import total, usd
from shotline.commands import budget as budget_command
from shotline.commands import costs as costs_command
from store.db import session_scope
from store.models import Job
from store.tenants import TenantBudget
from tests.ledger.history import EXPECTED, HISTORY, seed

DRIFT = re.compile(r"\d\.\d{7,}")
"""A number with more than six decimals: float drift such as 1.9600000000000002."""
FIGURES = ("spent_usd", "reserved_usd", "waste_usd", "avoided_usd", "emulated_usd")


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    costs_command.register(app)
    budget_command.register(app)
    return app


def _cli_json(cli: typer.Typer, *args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert not DRIFT.search(result.stdout), result.stdout
    return json.loads(result.stdout)


def _get(client: Any, url: str, headers: dict[str, str]) -> Any:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    assert not DRIFT.search(response.text), response.text
    return response.json()


@pytest.fixture
def history(ctx: Any, cli: typer.Typer) -> str:
    seed(ctx.db_url, HISTORY)
    # the budgets are set after the spend: they count it
    for tenant, usd_ in (("local", "5"), ("acme", "20")):
        done = CliRunner().invoke(cli, ["budget", "set", tenant, usd_])
        assert done.exit_code == 0, done.output
    return str(ctx.db_url)


@pytest.mark.parametrize("tenant", ["acme", "local"])
def test_costs_budget_api_dashboard_and_reports_agree(client, cli, history, tenant):
    want = {k: float(v) for k, v in EXPECTED[tenant].items()}
    headers = {"Authorization": f"Bearer {auth.create_key(history, tenant)}"}
    api = _get(client, "/v1/costs", headers)
    dashboard = _get(client, "/v1/dashboard", headers)
    costs = _cli_json(cli, "costs", "--tenant", tenant)
    budget = {row["tenant"]: row for row in _cli_json(cli, "budget", "show")}[tenant]

    for name in FIGURES:
        assert api[name] == dashboard[name] == costs[name] == want[name], name
    for name in ("spent_usd", "reserved_usd", "emulated_usd"):
        assert budget[name] == want[name], name
    assert usd(budget["headroom_usd"]) == usd(budget["budget_usd"]) - usd(want["spent_usd"]) - usd(
        want["reserved_usd"]
    )
    emulated = api["emulated"]
    assert emulated["spent_usd"] == want["emulated_usd"]
    assert emulated["avoided_usd"] == want["emulated_avoided_usd"]
    assert emulated["reserved_usd"] == 0.0

    # the same groups and totals everywhere, and groups add up to their total exactly
    assert api["totals"] == dashboard["totals"] == costs["totals"]
    assert api["groups"] == dashboard["by_model"] == costs["groups"]
    assert api["preview"] == dashboard["preview"] == costs["preview"]
    for name in ("totals", "groups", "preview"):
        assert api["emulated"][name] == costs["emulated"][name], name
    assert dashboard["emulated"]["by_model"] == api["emulated"]["groups"]
    for block in (api, api["emulated"]):
        assert total(g["spend_usd"] for g in block["groups"]) == usd(block["spent_usd"])
        assert total(g["waste_usd"] for g in block["groups"]) == usd(block["waste_usd"])
        assert block["totals"]["spend_usd"] == block["spent_usd"]
        assert block["preview"]["cost_avoided_usd"] == block["avoided_usd"]
    days = dashboard["by_day"] + dashboard["emulated"]["by_day"]
    assert total(g["spend_usd"] for g in days) == usd(want["spent_usd"]) + usd(want["emulated_usd"])

    # the dashboard page's overview: the same headline, emulated apart, budgets as budget show
    overview = _get(client, "/v1/dashboard/overview", headers)
    for name in FIGURES:
        assert overview[name] == want[name], name
    assert overview["totals"] == api["totals"]
    assert overview["by_model"] == api["groups"]
    assert overview["emulated"]["totals"] == api["emulated"]["totals"]
    for name in ("spent_usd", "waste_usd", "avoided_usd"):
        assert overview["emulated"][name] == api["emulated"][name], name
    assert overview["budgets"] == [budget]
    assert total(g["spend_usd"] for g in overview["series"]) == usd(want["spent_usd"])

    # the jobs (of the API's dashboard and the page's): each job's own spend, emulated ones
    # flagged and repeated in emulated_usd; real and emulated add up to the totals
    jobs = dashboard["latest_jobs"]
    for rows in (jobs, overview["jobs"]):
        real = total(usd(j["spend_usd"]) - usd(j["emulated_usd"]) for j in rows)
        assert real == usd(want["spent_usd"])
        assert total(j["emulated_usd"] for j in rows) == usd(want["emulated_usd"])
        assert all(j["emulated_usd"] == 0 for j in rows if not j["emulated"])
        assert all(j["emulated_usd"] == j["spend_usd"] for j in rows if j["emulated"])

    # every job's report: its total is the exact sum of its shots, and the ledger's job group
    by_job = _cli_json(cli, "costs", "--tenant", tenant, "--by", "job")
    groups = {g["key"]: g for g in by_job["groups"] + by_job["emulated"]["groups"]}
    settled: list[Decimal] = []
    for job in jobs:
        view = _get(client, f"/v1/jobs/{job['id']}", headers)
        spent = view["costs"]["spent_usd"]
        assert usd(spent) == total(shot["cost_usd"] for shot in view["shots"]), job["id"]
        assert spent == groups[job["id"]]["spend_usd"] == job["spend_usd"]
        if not job["emulated"]:
            settled.append(usd(view["costs"]["settled_usd"]))
    # the jobs' settled_usd is what the costs view calls settled: the provider charges, no judge
    # fees (the job's view counted them in, under the same name)
    assert total(settled) == usd(api["settled_usd"])


def test_budget_counters_metrics_and_cli_text_agree(client, cli, history, operator_headers):
    everyone = _cli_json(cli, "costs")
    assert everyone["spent_usd"] == float(total(v["spent_usd"] for v in EXPECTED.values()))
    assert everyone["emulated_usd"] == float(total(v["emulated_usd"] for v in EXPECTED.values()))

    # the admission counters of budgets and jobs equal the ledger's figures
    budgets = {row["tenant"]: row for row in _cli_json(cli, "budget", "show")}
    with session_scope(history) as session:
        for row in session.scalars(select(TenantBudget)):
            assert usd(row.spent_usd) == usd(budgets[row.tenant]["spent_usd"]), row.tenant
            assert usd(row.reserved_usd) == usd(budgets[row.tenant]["reserved_usd"]), row.tenant
        real = session.scalars(select(Job).where(Job.providers != "emulated")).all()
        assert total(j.spent_usd for j in real) == usd(everyone["spent_usd"])
        assert total(j.reserved_usd for j in real) == usd(everyone["reserved_usd"])

    response = client.get("/metrics", headers=operator_headers)
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}

    def metric(name: str) -> Decimal:
        return total(s.value for s in families[name].samples if s.name == f"{name}_total")

    assert metric("shotline_spend_usd") == usd(everyone["spent_usd"])
    assert metric("shotline_emulated_spend_usd") == usd(everyone["emulated_usd"])
    assert metric("shotline_preview_cost_avoided_usd") == usd(everyone["avoided_usd"])
    headroom = families["shotline_budget_headroom_usd"].samples[0].value
    assert usd(headroom) == usd(5.0) - usd(0.75), "the running real job: budget - held"

    # the tables print the same money in cents, emulated spend apart and marked
    table = CliRunner().invoke(cli, ["costs", "--tenant", "local"], env={"COLUMNS": "200"})
    assert "emulated: $2.34 on emulated providers" in table.stdout
    emulated_line = next(line for line in table.stdout.splitlines() if "emulated: $2.34" in line)
    assert "; previews committed: " in emulated_line  # its commits, not only the cost avoided
    assert "runway/gen4.5 (emulated)" in table.stdout
    shown = CliRunner().invoke(cli, ["budget", "show"], env={"COLUMNS": "200"})
    local = next(line for line in shown.stdout.splitlines() if "local" in line)
    assert re.findall(r"\$[\d.]+", local) == ["$5.00", "$0.00", "$0.30", "$4.70", "$2.34"]


def test_a_budget_money_cannot_hold_is_refused_and_not_set(cli, ctx):
    """Before, ``budget set acme 1e30`` stored the budget and then raised InvalidOperation
    printing it (and on every later figure of the tenant)."""
    done = CliRunner().invoke(cli, ["budget", "set", "acme", "1e30"])
    assert done.exit_code == 2, done.output
    with session_scope(ctx.db_url) as session:
        assert session.get(TenantBudget, "acme") is None


@pytest.mark.parametrize("tenant", ["", "a b", "-x"])
def test_a_budget_for_a_name_no_tenant_can_have_is_refused(cli, ctx, tenant):
    """``budget set "" 5`` stored a budget for a tenant named ""."""
    done = CliRunner().invoke(cli, ["budget", "set", "--", tenant, "5"])
    assert done.exit_code == 2, done.output
    assert "TENANT: 1-64 letters, digits" in done.output
    with session_scope(ctx.db_url) as session:
        assert session.get(TenantBudget, tenant) is None
