"""Reading jobs for the API: tenant scoping (another tenant's job is a 404), the job view built on
``pipeline.report.job_report``, stage timings from the event stream, links to downloads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from foundation.errors import NotFoundError
from foundation.states import SHOT_HAS_CLIP, AttemptStatus, JobStatus
from pipeline.errors import redact_paths
from pipeline.report import costs_of, report_of
from store import jobs
from store.db import session_scope
from store.models import Attempt, Event, Job, Shot

_STAGES = (
    ("queued_s", "job.created", "job.running"),
    ("shots_s", "job.running", "job.stitching"),
    ("stitching_s", "job.stitching", "job.delivered"),
)


def owned_job(session: Session, tenant: str, job_id: str) -> Job:
    """The caller's job; a missing, deleted or other tenant's job is the same 404."""
    job = jobs.tenant_job(session, tenant, job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id}")
    return job


def check_owned(db_url: str, tenant: str, job_id: str) -> Job:
    with session_scope(db_url) as session:
        return owned_job(session, tenant, job_id)


def timings(session: Session, job_id: str) -> dict[str, float]:
    rows = session.execute(
        select(Event.kind, func.min(Event.created_at), func.max(Event.created_at))
        .where(Event.job_id == job_id)
        .group_by(Event.kind)
    ).all()
    first = {kind: low for kind, low, _ in rows}
    last = {kind: high for kind, _, high in rows}
    out: dict[str, float] = {}
    for name, start, end in _STAGES:
        if start in first and end in last:
            out[name] = max(0.0, (aware(last[end]) - aware(last[start])).total_seconds())
    ends = [last[k] for k in ("job.delivered", "job.failed", "job.cancelled") if k in last]
    if "job.created" in first and ends:
        out["total_s"] = max(0.0, (aware(max(ends)) - aware(first["job.created"])).total_seconds())
    return out


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def job_header(job: Job) -> dict[str, Any]:
    """What every job listing and detail names a job by (the dashboard's rows and drill-down)."""
    return {
        "id": job.id,
        "title": job.title,
        "tenant": job.tenant,
        "mode": job.mode,
        "status": job.status,
        "stage": job.stage,
        "providers": job.providers,
        "emulated": job.providers == "emulated",
        "created_at": aware(job.created_at).isoformat(),
    }


def links(job_id: str, delivered: bool, variants: list[str] | None = None) -> dict[str, str]:
    base = f"/v1/jobs/{job_id}"
    out = {"self": base, "events": f"{base}/events", "webhooks": f"{base}/webhooks"}
    if delivered:
        out |= {
            "output": f"{base}/output",
            "plan": f"{base}/output/plan",
            "poster": f"{base}/poster",
            **{fmt: f"{base}/output/edit/{fmt}" for fmt in ("otio", "fcpxml", "edl")},
            **{f"variant_{v}": f"{base}/output/variants/{v}" for v in variants or []},
        }
    return out


def without_paths(value: Any) -> Any:
    """``value`` (JSON) with every server path in its strings cut down to a file name."""
    if isinstance(value, str):
        return redact_paths(value)
    if isinstance(value, dict):
        return {k: without_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_paths(v) for v in value]
    return value


DIAGNOSTICS = ("error", "history", "attempt_log", "verdict")
"""The parts of a shot's row that quote errors and findings, which may name server files."""


def _shot(job_id: str, row: dict[str, Any]) -> dict[str, Any]:
    row = row | {key: without_paths(row[key]) for key in DIAGNOSTICS if key in row}
    verdicts = [a.get("verdict") or {} for a in row["attempt_log"]]
    findings: Any = next((v.get("findings", []) for v in reversed(verdicts) if v), [])
    has_asset = row["status"] in SHOT_HAS_CLIP
    for attempt in row["attempt_log"]:
        if attempt["status"] == AttemptStatus.SUBMISSION_UNKNOWN:
            attempt["resolve_url"] = f"/v1/jobs/{job_id}/attempts/{attempt['id']}:resolve"
    return {
        **row,
        "findings": findings if isinstance(findings, list) else [],
        "asset_url": f"/v1/jobs/{job_id}/shots/{row['id']}/asset" if has_asset else None,
    }


def attempt_in_job(db_url: str, job_id: str, attempt_id: int) -> bool:
    with session_scope(db_url) as session:
        found = session.execute(
            select(Attempt.id)
            .join(Shot, Shot.id == Attempt.shot_id)
            .where(Attempt.id == attempt_id, Shot.job_id == job_id)
        ).first()
    return found is not None


def job_view(db_url: str, job_id: str, tenant: str | None = None) -> dict[str, Any]:
    """The full ``JobRead`` of one job, read in one transaction. With ``tenant``, a job that is not
    the tenant's is a 404 (``owned_job``); without, the caller has checked ownership."""
    with session_scope(db_url) as session:
        job = session.get_one(Job, job_id) if tenant is None else owned_job(session, tenant, job_id)
        report = report_of(session, job)
        webhook_url = jobs.webhook_url_of(session, job_id)
        quoted = jobs.quoted_total(session, job_id)
        stage_times = timings(session, job_id)
        created, updated, reserved = job.created_at, job.updated_at, job.reserved_usd
    return {
        "id": job_id,
        "title": report["title"],
        "status": report["status"],
        "stage": report["stage"],
        "mode": report["mode"],
        "providers": report["providers"],
        "emulated": report["emulated"],
        "error": without_paths(report["error"]),
        "error_shot": report["error_shot"],
        "created_at": created,
        "updated_at": updated,
        "costs": costs_of(report, quoted, reserved),
        "timings": stage_times,
        "verification": without_paths(report["verification"]),
        "webhook_url": webhook_url,
        "links": links(
            job_id,
            report["status"] == JobStatus.DELIVERED,
            [
                name.removeprefix("variant_")
                for name in report["files"]
                if name.startswith("variant_")
            ],
        ),
        "shots": [_shot(job_id, row) for row in report["shots"]],
    }


def list_jobs(
    db_url: str, tenant: str, *, limit: int, cursor: str | None, status: str | None
) -> tuple[list[Job], str | None]:
    """Newest first; ``cursor`` is the id of the last job of the previous page."""
    with session_scope(db_url) as session:
        anchor = None
        if cursor:
            anchor = jobs.find_job(session, cursor)
            if anchor is None or anchor.tenant != tenant:
                raise NotFoundError(f"no job {cursor} to continue after")
        rows = jobs.list_jobs(session, tenant, limit=limit + 1, after=anchor, status=status)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].id if more and rows else None
