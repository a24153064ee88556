"""Live progress of one job, fed by its pipeline events: per shot the stage (with what happened:
a refusal, a gate action), model, attempt, time spent and cost so far; the job's stage, elapsed
time and cost in the caption. ``render`` and
``commit`` show it while their job runs (stitching included)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
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

    def __init__(self, job_id: str, shots: Iterable[str], console: Console) -> None:
        self.job_id = job_id
        self.console = console
        self.started = time.monotonic()
        self.stage = "starting"
        self.ended: float | None = None
        self.shots: dict[str, dict[str, Any]] = {key: {"status": "planned"} for key in shots}
        self._lock = threading.Lock()

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
            if status in _SHOT_ENDS:
                row.setdefault("ended", now)
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

    def __rich__(self) -> Table:
        now = time.monotonic()
        with self._lock:
            rows = [self._row(key, row, now) for key, row in self.shots.items()]
            spent = sum(row.get("spent", 0.0) for row in self.shots.values())
            took = (self.ended or now) - self.started
            caption = f"job {self.job_id[:8]}: {self.stage}, {clock(took)}, ${spent:.2f} so far"
        fitted = fit_table(COLUMNS, rows, self.console.width, title="rendering", caption=caption)
        return fitted.table
