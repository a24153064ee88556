"""Prometheus metrics computed from the ledger at scrape time.

A collector reads the per-attempt cost records on each scrape instead of counting in memory, so the
exported counters are exactly the ledger's sums (``ledger.figures``, across restarts and processes)
and reconcile with ``/v1/costs`` and the dashboard. Like them, the attempt families count real
attempts only; the spend of attempts on emulated providers is ``shotline_emulated_spend_usd``. Every metric has one fixed label set. Breaker states come from the
serving process's health book (shared by every process under the distributed engine).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from foundation import money
from foundation.states import ATTEMPT_GATED, JOB_UNFINISHED
from ledger import aggregates, figures, previews
from ledger.aggregates import CostFilter
from router import BreakerState, HealthBook
from store.db import session_scope
from store.models import AttemptCost, Event, Job

RENDER_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
STITCH_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
BREAKER_VALUE = {BreakerState.CLOSED: 0.0, BreakerState.HALF_OPEN: 1.0, BreakerState.OPEN: 2.0}

METRIC_NAMES = (
    "shotline_spend_usd_total",
    "shotline_emulated_spend_usd_total",
    "shotline_accepted_seconds_total",
    "shotline_requested_seconds_total",
    "shotline_attempts_total",
    "shotline_gate_verdicts_total",
    "shotline_fallbacks_total",
    "shotline_cost_drift_flagged_total",
    "shotline_render_seconds",
    "shotline_stitch_seconds",
    "shotline_jobs_in_flight",
    "shotline_breaker_state",
    "shotline_budget_headroom_usd",
    "shotline_preview_shots_total",
    "shotline_preview_cost_avoided_usd_total",
)
"""The exported families (counters with their ``_total`` sample name)."""


def histogram(
    values: Iterable[float], buckets: Sequence[float]
) -> tuple[list[tuple[str, float]], float]:
    """Cumulative ``(le, count)`` buckets ending with ``+Inf``, and the sum of the values."""
    items = sorted(values)
    out = [(_le(bound), float(sum(1 for v in items if v <= bound))) for bound in buckets]
    out.append(("+Inf", float(len(items))))
    return out, float(sum(items))


def _le(bound: float) -> str:
    return f"{bound:g}" if bound != int(bound) else f"{bound:.1f}"


@dataclass(eq=False)
class LedgerCollector(Collector):
    """Collects the ledger's metrics from ``db_url`` on every scrape."""

    db_url: str
    health: HealthBook | None = None
    models: Sequence[str] = field(default_factory=tuple)

    def collect(self) -> Iterator[Metric]:
        with session_scope(self.db_url) as session:
            rows, emulated = figures.split(aggregates.load(session, CostFilter()))
            yield from by_model(rows)
            yield emulated_spend(emulated)
            yield from verdicts(rows)
            yield render_histogram(rows)
            yield stitch_histogram(session)
            yield from job_gauges(session)
            yield from preview_counters(session)
        yield self.breakers()

    def breakers(self) -> Metric:
        gauge = GaugeMetricFamily(
            "shotline_breaker_state",
            "Circuit breaker per model (shared by every process under the distributed engine): "
            "0 closed, 1 half-open, 2 open",
            labels=["model"],
        )
        if self.health is not None:
            view = self.health.view()  # one read of the store for every model
            for model in self.models:
                gauge.add_metric([model], BREAKER_VALUE[view.state(model)])
        return gauge


def by_model(rows: Sequence[AttemptCost]) -> Iterator[Metric]:
    spend = CounterMetricFamily(
        "shotline_spend_usd",
        "Settled spend incl. waste and judge fees",
        labels=["model", "provider"],
    )
    accepted = CounterMetricFamily(
        "shotline_accepted_seconds", "Seconds of accepted clips", labels=["model", "provider"]
    )
    requested = CounterMetricFamily(
        "shotline_requested_seconds",
        "Seconds requested from providers",
        labels=["model", "provider"],
    )
    fallbacks = CounterMetricFamily(
        "shotline_fallbacks", "Attempts that fell back to this model", labels=["model", "provider"]
    )
    drift = CounterMetricFamily(
        "shotline_cost_drift_flagged",
        "Attempts whose billed cost drifted from the registry's computed cost",
        labels=["model", "provider"],
    )
    attempts = CounterMetricFamily(
        "shotline_attempts",
        "Attempts by outcome (accepted, repaired, rejected, failed, cancelled, pending)",
        labels=["model", "provider", "outcome"],
    )
    pairs = sorted({(r.model_id, r.provider) for r in rows})
    for model, provider in pairs:
        mine = [r for r in rows if (r.model_id, r.provider) == (model, provider)]
        labels = [model, provider]
        spend.add_metric(labels, float(figures.spent(mine)))
        accepted.add_metric(labels, sum(r.seconds_accepted for r in mine))
        requested.add_metric(labels, sum(r.seconds_requested for r in mine))
        fallbacks.add_metric(labels, float(sum(1 for r in mine if r.fallback)))
        drift.add_metric(labels, float(sum(1 for r in mine if r.drift_flagged)))
        for outcome, count in sorted(Counter(r.verdict for r in mine).items()):
            attempts.add_metric([*labels, outcome], float(count))
    yield from (spend, accepted, requested, fallbacks, drift, attempts)


def emulated_spend(rows: Sequence[AttemptCost]) -> Metric:
    family = CounterMetricFamily(
        "shotline_emulated_spend_usd",
        "What attempts on emulated providers would have cost (no money was spent)",
        labels=["model", "provider"],
    )
    for model, provider in sorted({(r.model_id, r.provider) for r in rows}):
        mine = [r for r in rows if (r.model_id, r.provider) == (model, provider)]
        family.add_metric([model, provider], float(figures.spent(mine)))
    return family


def verdicts(rows: Sequence[AttemptCost]) -> Iterator[Metric]:
    family = CounterMetricFamily(
        "shotline_gate_verdicts",
        "Gate verdicts by driving defect ('none' for a clean verdict)",
        labels=["verdict", "defect"],
    )
    counts: Counter[tuple[str, str]] = Counter()
    for row in rows:
        if row.verdict not in ATTEMPT_GATED:
            continue
        for defect in row.defects or ["none"]:
            counts[(row.verdict, defect)] += 1
    for (verdict, defect), count in sorted(counts.items()):
        family.add_metric([verdict, defect], float(count))
    yield family


def render_histogram(rows: Sequence[AttemptCost]) -> Metric:
    family = HistogramMetricFamily(
        "shotline_render_seconds",
        "Provider render time per attempt (submit to fetched)",
        labels=["model", "provider"],
    )
    timed: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        if row.render_seconds is not None:
            timed.setdefault((row.model_id, row.provider), []).append(row.render_seconds)
    for (model, provider), values in sorted(timed.items()):
        buckets, total = histogram(values, RENDER_BUCKETS)
        family.add_metric([model, provider], buckets, total)
    return family


def stitch_seconds(session: Session) -> list[float]:
    """Per delivered job: from its last ``job.stitching`` to its ``job.delivered`` event."""
    rows = session.execute(
        select(Event.job_id, Event.kind, func.max(Event.created_at))
        .where(Event.kind.in_(("job.stitching", "job.delivered")))
        .group_by(Event.job_id, Event.kind)
    ).all()
    marks: dict[str, dict[str, datetime]] = {}
    for job_id, kind, at in rows:
        marks.setdefault(job_id, {})[kind] = at if at.tzinfo else at.replace(tzinfo=UTC)
    return [
        max(0.0, (m["job.delivered"] - m["job.stitching"]).total_seconds())
        for m in marks.values()
        if "job.delivered" in m and "job.stitching" in m
    ]


def stitch_histogram(session: Session) -> Metric:
    family = HistogramMetricFamily(
        "shotline_stitch_seconds", "Stitch time per delivered job", labels=[]
    )
    buckets, total = histogram(stitch_seconds(session), STITCH_BUCKETS)
    family.add_metric([], buckets, total)
    return family


def job_gauges(session: Session) -> Iterator[Metric]:
    jobs = session.execute(
        select(Job.budget_usd, Job.spent_usd, Job.reserved_usd, Job.providers).where(
            Job.status.in_(JOB_UNFINISHED)
        )
    ).all()
    in_flight = GaugeMetricFamily("shotline_jobs_in_flight", "Jobs planned or running", labels=[])
    in_flight.add_metric([], float(len(jobs)))
    headroom = GaugeMetricFamily(
        "shotline_budget_headroom_usd",
        "Budget left (budget - spent - reserved) over in-flight real jobs that have a budget",
        labels=[],
    )
    left = [
        money.usd(b) - money.usd(s) - money.usd(r)
        for b, s, r, providers in jobs
        if b is not None and providers != "emulated"
    ]
    headroom.add_metric([], float(money.total(left)))
    yield in_flight
    yield headroom


def preview_counters(session: Session) -> Iterator[Metric]:
    stats = previews.preview_stats(session, CostFilter())
    shots = CounterMetricFamily(
        "shotline_preview_shots",
        "Previewed shots of committed previews, by decision (committed or kept as preview)",
        labels=["decision"],
    )
    shots.add_metric(["committed"], float(stats.committed_shots))
    shots.add_metric(["kept"], float(stats.preview_shots - stats.committed_shots))
    avoided = CounterMetricFamily(
        "shotline_preview_cost_avoided_usd",
        "Final-render cost of previewed shots a reviewer declined (ledger.figures.avoided)",
        labels=[],
    )
    avoided.add_metric([], float(stats.cost_avoided_usd))
    yield shots
    yield avoided
