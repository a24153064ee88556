"""``/metrics`` content: the ledger's sums exactly, one fixed label set per family, histograms
whose counts and sums match the records, breaker states; and every metric Grafana queries exists."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ledger import aggregates, figures
from ledger.metrics import METRIC_NAMES, LedgerCollector
from router import HealthBook
from store.db import session_scope
from store.models import Event, Job
from tests.ledger.conftest import seed_attempt

ROOT = Path(__file__).parents[2]
SUFFIXES = ("_bucket", "_count", "_sum", "_created")


def _seed(url: str) -> None:
    seed_attempt(
        url,
        settled_usd=1.6,
        judge_usd=0.02,
        render_seconds=7.0,
        verdict="accepted",
        seconds_requested=4.0,
        seconds_accepted=4.0,
    )
    seed_attempt(
        url,
        settled_usd=1.6,
        render_seconds=70.0,
        verdict="rejected",
        defects=["black_head", "frozen"],
        seconds_requested=4.0,
        drift_flagged=True,
    )
    seed_attempt(
        url,
        shot="b",
        model="kling/v3-pro",
        provider="kling",
        settled_usd=0.56,
        render_seconds=3.0,
        verdict="repaired",
        defects=["black_tail"],
        fallback=True,
        seconds_requested=5.0,
        seconds_accepted=4.5,
    )
    seed_attempt(url, job="job2", settled_usd=None, verdict="pending")
    seed_attempt(
        url,
        job="emu",
        settled_usd=0.7,
        judge_usd=0.0012,
        verdict="accepted",
        seconds_requested=4.0,
        seconds_accepted=4.0,
        emulated=True,
    )
    start = datetime(2026, 11, 20, 12, tzinfo=UTC)
    with session_scope(url) as session:
        session.get_one(Job, "job1").status = "delivered"
        emu = session.get_one(Job, "emu")
        emu.status, emu.providers = "delivered", "emulated"
        job2 = session.get_one(Job, "job2")
        job2.status, job2.budget_usd, job2.spent_usd, job2.reserved_usd = "running", 10.0, 1.0, 1.6
        session.add(Event(job_id="job1", kind="job.stitching", created_at=start))
        session.add(
            Event(job_id="job1", kind="job.delivered", created_at=start + timedelta(seconds=3))
        )


def _scrape(url: str, health: HealthBook | None = None, models=()) -> dict[str, Any]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector(url, health, tuple(models)))
    text = generate_latest(registry).decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def _value(families, name: str, **labels) -> float:
    return float(
        sum(
            s.value
            for family in families.values()
            for s in family.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )
    )


class TestLedgerMetrics:
    def test_counters_equal_the_ledger(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'm.db'}"
        _seed(url)
        families = _scrape(url)
        with session_scope(url) as session:
            real, emulated = figures.split(aggregates.load(session, aggregates.CostFilter()))
            groups = {g.key: g for g in aggregates.group(real, "model")}
        for model, group in groups.items():
            assert _value(families, "shotline_spend_usd_total", model=model) == float(
                group.spend_usd
            )
            assert (
                _value(families, "shotline_accepted_seconds_total", model=model)
                == group.seconds_accepted
            )
            assert _value(families, "shotline_fallbacks_total", model=model) == group.fallbacks
            assert _value(families, "shotline_attempts_total", model=model) == group.attempts
        assert _value(families, "shotline_emulated_spend_usd_total") == 0.7012
        # summed across label sets by this test in floats: equal up to float addition
        assert _value(families, "shotline_spend_usd_total") == pytest.approx(
            float(figures.spent(real)), abs=1e-12
        )
        assert len(emulated) == 1, "the emulated attempt is apart from the real families"
        assert _value(families, "shotline_attempts_total", outcome="accepted") == 1
        assert _value(families, "shotline_attempts_total", outcome="rejected") == 1
        assert _value(families, "shotline_cost_drift_flagged_total") == 1
        assert (
            _value(families, "shotline_gate_verdicts_total", verdict="rejected", defect="frozen")
            == 1
        )
        assert (
            _value(families, "shotline_gate_verdicts_total", verdict="accepted", defect="none") == 1
        )
        assert _value(families, "shotline_jobs_in_flight") == 1
        assert _value(families, "shotline_budget_headroom_usd") == pytest.approx(7.4)

    def test_histograms_match_the_records(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'm.db'}"
        _seed(url)
        families = _scrape(url)
        veo = {"model": "google/veo-3.1"}
        assert _value(families, "shotline_render_seconds_count", **veo) == 2
        assert _value(families, "shotline_render_seconds_sum", **veo) == 77.0
        assert _value(families, "shotline_render_seconds_bucket", le="10.0", **veo) == 1
        assert _value(families, "shotline_render_seconds_bucket", le="+Inf", **veo) == 2
        assert _value(families, "shotline_stitch_seconds_count") == 1
        assert _value(families, "shotline_stitch_seconds_sum") == pytest.approx(3.0)

    def test_each_family_has_one_label_set(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'm.db'}"
        _seed(url)
        health = HealthBook()
        for _ in range(5):
            health.record_failure("kling/v3-pro", "provider_failure")
        families = _scrape(url, health, ["google/veo-3.1", "kling/v3-pro"])
        for family in families.values():
            shapes = {frozenset(set(s.labels) - {"le"}) for s in family.samples}
            assert len(shapes) <= 1, f"{family.name} mixes label sets {shapes}"
        assert _value(families, "shotline_breaker_state", model="kling/v3-pro") == 2
        assert _value(families, "shotline_breaker_state", model="google/veo-3.1") == 0

    def test_empty_ledger_exports_every_family(self, tmp_path):
        families = _scrape(f"sqlite:///{tmp_path / 'm.db'}")
        exported = {name.removesuffix("_total") for name in METRIC_NAMES}
        assert exported <= set(families)


def test_grafana_queries_only_exported_metrics(tmp_path):
    url = f"sqlite:///{tmp_path / 'g.db'}"
    _seed(url)
    families = _scrape(url, HealthBook(), ["google/veo-3.1"])
    samples = {s.name for family in families.values() for s in family.samples}
    dashboard = json.loads((ROOT / "dashboards" / "grafana.json").read_text())
    queried = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            queried |= set(re.findall(r"\bshotline_[a-z0-9_]+", target["expr"]))
    assert len(dashboard["panels"]) >= 10
    missing = {name for name in queried if name not in samples}
    assert not missing, f"Grafana queries metrics that /metrics does not export: {missing}"
    bases = {re.sub("|".join(SUFFIXES) + "$", "", name) for name in queried}
    assert bases >= {
        "shotline_render_seconds",
        "shotline_stitch_seconds",
        "shotline_spend_usd_total",
    }
