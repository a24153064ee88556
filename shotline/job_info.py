"""What ``shotline jobs`` shows: jobs found by id or short id, the list with its filters, and one
job in detail. The figures come from the queries the API uses (``store.jobs``, the job report of
``pipeline.report`` and the ledger's figures), so the CLI, ``/v1/jobs`` and ``costs --by job``
agree; a job on emulated providers is flagged ``emulated`` (its cost is emulated money)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from foundation import money
from foundation.errors import InvalidInputError, NotFoundError, Problem
from foundation.states import SHOT_HAS_CLIP, JobStatus
from ledger import aggregates
from ledger.aggregates import CostFilter
from pipeline.report import costs_of, job_report
from store import jobs
from store.db import session_scope
from store.models import Job

SHORT_ID = 8
_AGO = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
SIDECARS = {"plan": "plan.json", "poster": "poster.jpg", "contact_sheet": "contact.jpg"}
"""The files ``stitching.assemble`` writes beside a deliverable ``OUT.mp4``: ``OUT.<suffix>``."""


def utc(value: datetime) -> datetime:
    """A stored timestamp as an aware UTC time (SQLite returns them naive)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_since(value: str, now: datetime) -> datetime:
    """``30m``, ``2h``, ``3d``, ``1w`` before ``now``, or an ISO date or time (UTC unless it says)."""
    found = _AGO.match(value.strip().lower())
    if found:
        return now - timedelta(**{_UNITS[found[2]]: int(found[1])})
    try:
        return utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        raise InvalidInputError(
            "--since is neither an age nor a date",
            [Problem("--since", f"{value!r}: use e.g. 30m, 2h, 3d, 1w or 2026-11-01")],
        ) from None


def created_label(when: datetime, now: datetime) -> str:
    """``12s ago``, ``5m ago``, ``3h ago``, ``2d ago``; the date from a week on."""
    seconds = max(0, int((now - utc(when)).total_seconds()))
    if seconds >= 7 * 86_400:
        return utc(when).strftime("%Y-%m-%d")
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def find(session: Session, ref: str) -> Job:
    """The job with id ``ref``, or the one job whose id starts with it (as ``jobs list`` prints)."""
    job = jobs.find_job(session, ref)
    if job is not None:
        return job
    ids = jobs.ids_starting(session, ref.lower(), limit=5)
    if not ids:
        raise NotFoundError(f"no job {ref} (shotline jobs list shows the jobs)")
    if len(ids) > 1:
        raise InvalidInputError(
            f"{ref} is the start of more than one job id",
            [Problem("JOB", f"{job_id} matches") for job_id in ids],
        )
    return session.get_one(Job, ids[0])


def find_id(db_url: str, ref: str) -> str:
    with session_scope(db_url) as session:
        return find(session, ref).id


def statuses() -> list[str]:
    return [str(status) for status in JobStatus]


def list_jobs(
    db_url: str,
    *,
    tenant: str | None,
    status: str | None,
    since: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first: id, title, tenant, mode, status, stage, shots done and total, settled cost,
    created time."""
    if status is not None and status not in statuses():
        raise InvalidInputError(
            "--status is not a job status",
            [Problem("--status", f"{status!r}: one of {', '.join(statuses())}")],
        )
    with session_scope(db_url) as session:
        rows = jobs.list_jobs(session, tenant, limit=limit, status=status, since=since)
        counts = jobs.shot_counts(session, [job.id for job in rows], SHOT_HAS_CLIP)
        ids = tuple(job.id for job in rows)
        spend = {
            g.key: g.spend_usd
            for g in aggregates.group(aggregates.load(session, CostFilter(job_ids=ids)), "job")
        }
        return [
            {
                "id": job.id,
                "title": job.title,
                "tenant": job.tenant,
                "mode": job.mode,
                "providers": job.providers,
                "emulated": job.providers == "emulated",
                "status": job.status,
                "stage": job.stage,
                "shots_done": counts[job.id][0],
                "shots": counts[job.id][1],
                "cost_usd": money.to_json(spend.get(job.id, money.ZERO)),
                "created_at": utc(job.created_at).isoformat(),
            }
            for job in rows
        ]


def outputs(path: str | None) -> dict[str, str]:
    """The deliverable and the files beside it that exist (paths, or ``s3://`` references when
    the asset store is a bucket)."""
    if not path:
        return {}
    from foundation.settings import get_settings
    from pipeline.assets import sibling, store_for

    store = store_for(get_settings())
    found = {"video": path} | {name: sibling(path, suffix) for name, suffix in SIDECARS.items()}
    return {name: ref for name, ref in found.items() if store.exists(ref)}


def detail(db_url: str, job_id: str) -> dict[str, Any]:
    """One job: its report (shots with their attempts), tenant, times, money and files."""
    report = job_report(db_url, job_id)
    with session_scope(db_url) as session:
        job = session.get_one(Job, job_id)
        quoted = jobs.quoted_total(session, job_id)
        clips = {shot.key: shot.asset_path for shot in jobs.shots_of(session, job_id)}
        facts = {
            "tenant": job.tenant,
            "created_at": utc(job.created_at).isoformat(),
            "updated_at": utc(job.updated_at).isoformat(),
            "reserved_usd": money.to_json(job.reserved_usd),
            "output_path": job.output_path,
        }
    shots = [row | {"clip": clips.get(row["id"])} for row in report["shots"]]
    delivered = report["status"] == JobStatus.DELIVERED
    return {
        "id": report["job"],
        **{key: report[key] for key in ("title", "status", "stage", "mode", "providers")},
        **{key: report[key] for key in ("emulated", "error", "error_shot", "verification")},
        **facts,
        "costs": costs_of(report, quoted, facts["reserved_usd"]),
        "outputs": outputs(report["output"]) if delivered else {},
        "shots": shots,
    }
