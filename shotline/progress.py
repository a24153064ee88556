"""Live progress of one job, fed by its pipeline events: per shot the stage (with what happened:
a refusal, a gate action), model, attempt, time spent and cost so far; the job's stage, elapsed
time and cost in the caption. ``render`` and
``commit`` show it while their job runs (stitching included)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from foundation.states import ShotStatus
from pipeline import events
from shotline.tables import Column, fit_table

_STYLE = {"accepted": "green", "normalised": "green", "failed": "red", "gated": "yellow"}
_SHOT_ENDS = {"normalised", "failed", "cancelled", "kept"}
_JOB_STAGE = {
    "job.running": "rendering shots",
    "job.stitching": "stitching",
    "job.delivered": "delivered",
    "job.failed": "failed",
    "job.cancelled": "cancelled",
}
MUSIC_ROW = "(music)"
COLUMNS = (
    Column("shot"),
    Column("stage", fold_to=10),
    Column("model", fold_to=14),
    Column("try", priority=1, justify="right"),
    Column("time", justify="right"),
    Column("cost", justify="right"),
)


_STAGES = ("tts", "keyframe", "sheet", "music")


def _count_try(row: dict[str, Any], stage: str | None, number: int | None) -> None:
    """The ``try`` a row shows: a video attempt's number, or how many tries of its stage were seen
    (a stage's attempts are numbered below zero: tts, keyframes, sheets and native renders from -1,
    the bed from -1,000,000: ``foundation.states.Stage``)."""
    if number is None:
        return
    if stage in (None, "video"):
        row["try"] = number
        return
    seen = row.setdefault("stage_tries", {}).setdefault(stage, set())
    seen.add(number)
    row["try"] = len(seen)


def clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


class JobProgress:
    """The rich renderable of a running job; ``on_event`` is the pipeline listener (called from
    the engine's threads), and every redraw reads the clock, so times advance between events."""

    def __init__(
        self,
        job_id: str,
        shots: Iterable[str],
        console: Console,
        spend: Callable[[], dict[str, float]] | None = None,
    ) -> None:
        """``spend``: each row's cost so far from the ledger (``pipeline.report.spend_so_far``),
        read at most once a second; without it, the fetched videos' costs as events report them."""
        self.job_id = job_id
        self.console = console
        self.started = time.monotonic()
        self.stage = "starting"
        self.ended: float | None = None
        self.shots: dict[str, dict[str, Any]] = {key: {"status": "planned"} for key in shots}
        self._lock = threading.Lock()
        self._spend = spend
        self._spent: tuple[float, dict[str, float]] | None = None  # (read at, costs)

    def on_event(self, event: events.PipelineEvent) -> None:
        if event.job_id != self.job_id:
            return
        now = time.monotonic()
        with self._lock:
            if event.kind in _JOB_STAGE:
                self.stage = _JOB_STAGE[event.kind]
                if event.kind != "job.running" and event.kind != "job.stitching":
                    self.ended = now
            stage = event.data.get("stage")
            row: dict[str, Any] | None = (  # the job's music stage: a row of its own
                self.shots.setdefault(MUSIC_ROW, {})
                if stage == "music"
                else self.shots.get(event.shot or "")
            )
            if row is None:
                return
            status = event.kind.split(".", 1)[1]
            row.pop("stage", None)  # named by the events of the stages other than the video only
            if stage in _STAGES:
                status = f"{stage} {status}"
            row.update(event.data, status=status)
            _count_try(row, stage, event.data.get("attempt"))
            if event.kind.startswith("attempt.") or status == ShotStatus.RENDERING:
                row.setdefault("started", now)
            if event.kind.startswith("shot.") and status in _SHOT_ENDS:
                row["ended"] = now
            elif event.kind.startswith("attempt.") and status != "failed":
                row.pop("ended", None)  # a shot tried again after it ended (resumed, re-rendered)
            if event.kind == "attempt.fetched":
                row["spent"] = row.get("spent", 0.0) + float(event.data.get("cost_usd") or 0.0)

    def _row(self, key: str, row: dict[str, Any], now: float) -> list[str]:
        status = str(row.get("status", ""))
        detail = row.get("action") or row.get("error_kind") or row.get("reason") or ""
        started = row.get("started")
        spent = row.get("spent")
        stage = f"[{_STYLE.get(status, 'white')}]{status}[/]"
        if detail and detail != "accept":
            stage += f"\n[dim]{escape(str(detail))}[/]"
        return [
            key,
            stage,
            str(row.get("model", "")),
            str(row.get("try", "")),
            clock(row.get("ended", now) - started) if started is not None else "",
            f"${spent:.2f}" if spent is not None else "",
        ]

    def _ledger(self, now: float) -> dict[str, float] | None:
        """The ledger's costs, read again when a second old (a read that fails keeps the last)."""
        if self._spend is None:
            return None
        from sqlalchemy.exc import SQLAlchemyError

        if self._spent is None or now - self._spent[0] >= 1.0:
            try:
                self._spent = (now, self._spend())
            except SQLAlchemyError:  # a locked or busy database: a later redraw reads again
                return self._spent[1] if self._spent else None
        return self._spent[1]

    def __rich__(self) -> Table:
        now = time.monotonic()
        ledger = self._ledger(now)
        with self._lock:
            if ledger is not None:
                for key, cost in ledger.items():
                    if key in self.shots or cost:
                        self.shots.setdefault(key, {"status": "planned"})["spent"] = cost
            rows = [self._row(key, row, now) for key, row in self.shots.items()]
            spent = sum(row.get("spent", 0.0) for row in self.shots.values())
            took = (self.ended or now) - self.started
            caption = f"job {self.job_id[:8]}: {self.stage}, {clock(took)}, ${spent:.2f} so far"
        fitted = fit_table(COLUMNS, rows, self.console.width, title="rendering", caption=caption)
        return fitted.table
