"""The built-in ``/dashboard`` page in headless Chromium: its charts show the seeded ledger exactly
(reconciled with ``/v1/costs``, ``/v1/dashboard`` and ``/metrics``), it makes no external request,
and it fits a phone-sized screen. Screenshots go to ``test-artifacts/``.

Chromium comes from the machine (``chromium-headless-shell``, else ``chromium``); tests never install
it. Without one they skip with the reason, except under ``SHOTLINE_REQUIRE_SERVICES=1`` (CI, whose
``.ci/run`` installs Debian's ``chromium-headless-shell`` first), where they fail.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.browser import PHONE, Dom, artifact, browse
from tests.ledger.conftest import seed_attempt


def _seed(db_url: str) -> None:
    day1, day2 = datetime(2026, 11, 19, 10, tzinfo=UTC), datetime(2026, 11, 20, 10, tzinfo=UTC)
    ok: dict[str, Any] = {"verdict": "accepted", "seconds_requested": 4.0, "seconds_accepted": 4.0}
    seed_attempt(db_url, job="jobA", settled_usd=1.6, render_seconds=95.0, created_at=day1, **ok)
    seed_attempt(
        db_url,
        job="jobA",
        settled_usd=1.6,
        render_seconds=240.0,
        created_at=day1,
        verdict="rejected",
        defects=["frozen"],
        seconds_requested=4.0,
    )
    seed_attempt(
        db_url,
        job="jobA",
        shot="b",
        settled_usd=1.6,
        judge_usd=0.012,
        render_seconds=130.0,
        created_at=day2,
        **ok,
    )
    seed_attempt(
        db_url,
        job="jobB",
        model="kling/v3-pro",
        provider="kling",
        fallback=True,
        settled_usd=0.56,
        render_seconds=40.0,
        created_at=day2,
        verdict="accepted",
        seconds_requested=5.0,
        seconds_accepted=5.0,
    )
    seed_attempt(
        db_url,
        job="jobB",
        shot="c",
        model="runway/gen4.5",
        provider="runway",
        settled_usd=0.0,
        verdict="failed",
        error_kind="safety_refusal",
        seconds_requested=5.0,
        created_at=day2,
    )
    seed_attempt(
        db_url,
        job="jobZ",
        tenant="globex",
        model="luma/ray-2",
        provider="luma",
        settled_usd=50.0,
        created_at=day2,
        **ok,
    )


def _rows(dom: Dom, table: str) -> list[str]:
    """The ``data-job`` of every row of the table ``data-table=table``."""
    start = dom.nodes.index(dom.find(tag="table", **{"data-table": table})[0])
    rows = []
    for node in dom.nodes[start + 1 :]:
        if node["tag"] == "table":
            break
        if node["tag"] == "tr" and node.get("data-job"):
            rows.append(node["data-job"])
    return rows


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:.4f}"


@pytest.mark.parametrize("path", ["/dashboard", "/jobs/any-job/review"])
def test_page_is_self_contained(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    html = response.text.replace("http://www.w3.org/2000/svg", "")
    assert not re.search(r"https?://|//cdn|<link|<script[^>]+src=|@import", html)
    assert '<meta name="viewport"' in html


def test_dashboard_shows_the_ledger_exactly(
    client, ctx, key, headers, operator_headers, live_url, chromium
):
    _seed(ctx.db_url)
    data = client.get("/v1/dashboard", headers=headers).json()
    costs = client.get("/v1/costs", headers=headers).json()
    metrics = client.get("/metrics", headers=operator_headers)
    families = text_string_to_metric_families(metrics.text)
    metric_spend = {
        s.labels["model"]: s.value
        for f in families
        if f.name == "shotline_spend_usd"
        for s in f.samples
    }
    shot = artifact("dashboard-phone.png")
    shot.unlink(missing_ok=True)
    dom = Dom()
    dom.feed(browse(chromium, f"{live_url}/dashboard#key={key}", "--dump-dom"))
    browse(chromium, f"{live_url}/dashboard#key={key}", f"--screenshot={shot}", size=(390, 2200))
    browse(
        chromium,
        f"{live_url}/dashboard#key={key}",
        f"--screenshot={artifact('dashboard-desktop.png')}",
        size=(1280, 1400),
    )

    body = dom.find(tag="body")[0]
    assert body["data-state"] == "ready", body.get("data-state")
    assert int(body["data-width"]) <= PHONE[0], "the page scrolls sideways on a phone"
    models = {g["key"]: g for g in data["by_model"]}
    assert set(models) == {"google/veo-3.1", "kling/v3-pro", "runway/gen4.5"}, "other tenants leak"
    assert models == {g["key"]: g for g in costs["groups"]}
    for model, group in models.items():
        bar = dom.find(tag="rect", **{"data-key": model, "data-series": "spend_usd"})[0]
        assert float(bar["data-value"]) == group["spend_usd"]
        assert float(bar["data-value"]) == pytest.approx(metric_spend[model], abs=5e-7)
        label = dom.find(tag="text", **{"data-key": model, "data-series": "spend_usd"})[0]
        assert label["text"] == _money(group["spend_usd"])
        for series in ("acceptance_rate", "fallback_rate"):
            rate = dom.find(tag="rect", **{"data-key": model, "data-series": series})[0]
            assert float(rate["data-value"] or "nan") == pytest.approx(group[series], nan_ok=True)
    assert metric_spend["luma/ray-2"] == 50.0, "/metrics covers every tenant"
    veo = models["google/veo-3.1"]
    cpas = dom.find(
        tag="text", **{"data-key": "google/veo-3.1", "data-series": "cost_per_accepted_second"}
    )
    assert cpas[0]["text"] == _money(veo["cost_per_accepted_second"]) == "$0.6015"
    p95 = dom.find(tag="rect", **{"data-key": "google/veo-3.1", "data-series": "render_p95_s"})[0]
    assert float(p95["data-value"]) == veo["render_p95_s"]
    overview = client.get("/v1/dashboard/overview", headers=headers).json()
    assert overview["by_model"] == data["by_model"]
    assert overview["bucket"] == "hour", "a day of history is drawn hour by hour"
    assert len(overview["series"]) == 25, "10:00 on day 1 to 10:00 on day 2, empty hours included"
    hours = {
        n["data-key"]: float(n["data-value"])
        for n in dom.find(tag="rect", **{"data-series": "spend_usd"})
        if "T" in n["data-key"]
    }
    assert hours == {g["key"]: g["spend_usd"] for g in overview["series"]}
    per_day: dict[str, float] = {}
    for key_, spend in hours.items():
        per_day[key_[:10]] = per_day.get(key_[:10], 0.0) + spend
    assert per_day == pytest.approx({g["key"]: g["spend_usd"] for g in data["by_day"]})
    total = dom.find(tag="div", **{"data-total": "spend"})[0]
    assert float(total["data-value"]) == costs["totals"]["spend_usd"] == pytest.approx(5.372)
    jobs = [n["data-job"] for n in dom.find(tag="tr") if n.get("data-job")]
    assert set(jobs) == {"jobA", "jobB"}
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("path", ["/dashboard", "/jobs/any-job/review"])
def test_a_page_without_a_key_asks_for_one(live_url, chromium, path):
    dom = Dom()
    dom.feed(browse(chromium, f"{live_url}{path}", "--dump-dom"))
    assert dom.find(tag="body")[0]["data-state"] == "needs-key"
    assert "hidden" not in dom.find(tag="form", id="keyform")[0]


def test_filtered_view_and_drill_down_on_a_phone(client, ctx, key, headers, live_url, chromium):
    """A link with filters and a job: the figures of that model only, the job opened below."""
    _seed(ctx.db_url)
    kling = client.get("/v1/dashboard/overview?model=kling/v3-pro", headers=headers).json()
    jobB = client.get("/v1/dashboard/jobs/jobB", headers=headers).json()
    url = f"{live_url}/dashboard?model=kling/v3-pro&from=2026-11-20#key={key}&job=jobB"
    dom = Dom()
    dom.feed(browse(chromium, url, "--dump-dom"))
    shot = artifact("dashboard-filtered-phone.png")
    browse(chromium, url, f"--screenshot={shot}", size=(390, 3600))
    body = dom.find(tag="body")[0]
    assert body["data-state"] == "ready", body.get("data-state")
    assert int(body["data-width"]) <= PHONE[0], "the drill-down scrolls sideways on a phone"
    total = dom.find(tag="div", **{"data-total": "spend"})[0]
    assert float(total["data-value"]) == kling["totals"]["spend_usd"] == 0.56
    models = {n["data-key"] for n in dom.find(tag="rect", **{"data-series": "spend_usd"})}
    assert "kling/v3-pro" in models
    assert "google/veo-3.1" not in models
    assert _rows(dom, "jobs") == ["jobB"], "only jobB used kling"
    assert _rows(dom, "flight") == ["jobA", "jobB"], "in flight: every unfinished job, unfiltered"
    drill = dom.find(tag="section", id="drill")[0]
    assert drill["data-job"] == "jobB"
    assert "hidden" not in drill
    shots = [n["data-drill-shot"] for n in dom.find(tag="article") if n.get("data-drill-shot")]
    assert shots == [s["id"] for s in jobB["shots"]] == ["a", "c"]
    refused = dom.find(tag="td", **{"data-findings": ""})
    assert any("safety_refusal" in n["text"] for n in refused), "the refusal is explained"


def test_a_to_date_that_is_no_date_is_left_out(ctx, key, live_url, chromium):
    """``?to=garbage`` put the page in its error state ("Invalid time value")."""
    _seed(ctx.db_url)
    dom = Dom()
    dom.feed(browse(chromium, f"{live_url}/dashboard?to=garbage#key={key}", "--dump-dom"))
    assert dom.find(tag="body")[0]["data-state"] == "ready"


def test_a_link_with_another_key_shows_the_tenant_it_acts_for_at_once(
    ctx, key, live_url, chromium, tmp_path
):
    """A ``#key=`` link followed in the same tab replaced the stored key in silence, the old
    tenant still on screen until the next refresh: the page's next action (a commit, a resolve)
    ran as the link's tenant. It now loads again under it."""
    from api import auth
    from tests.api.browser import Chromium

    other = auth.create_key(ctx.db_url, "globex")
    status = "document.getElementById('status').textContent"
    with Chromium(chromium, tmp_path / "chromium") as page:
        page.goto(f"{live_url}/dashboard#key={key}")
        page.wait_for(f"{status}.startsWith('tenant acme')", what="acme's dashboard")
        page.eval(f"location.hash = 'key={other}'")
        page.wait_for(f"{status}.startsWith('tenant globex')", timeout=20, what="globex's")
        assert page.eval("location.hash") == "", "the key is taken out of the address"
