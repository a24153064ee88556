"""Job repository: the queries on jobs, their shots and attempts that the API and the pipeline
share. Functions take the caller's session (the caller owns the unit of work) and hold no rules:
what a status means and when a row may change is decided above ``store``."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.orm import Session

from foundation.states import JobStatus, Stage
from store.models import Attempt, Job, JobApi, JobCommit, Shot, WebhookDelivery

JOB_ID_MAX = 32


def add_job(session: Session, job: Job, shots: Iterable[Shot]) -> None:
    """Insert ``job`` and its shots (their ``job_id`` is set here)."""
    session.add(job)
    session.flush()
    for shot in shots:
        shot.job_id = job.id
        session.add(shot)
    session.flush()


def lock_job(session: Session, job_id: str) -> None:
    """Take the job row's write lock until the caller's transaction ends, with an UPDATE that
    changes nothing: a concurrent transaction locking (or updating, e.g. ``ledger.reserve``) the
    row waits for this one, and what this one reads after the lock is what the last one wrote
    (PostgreSQL's row lock; SQLite's database write lock)."""
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(updated_at=Job.updated_at)  # set, so that its ``onupdate`` does not run
        .execution_options(synchronize_session=False)
    )


def find_job(session: Session, job_id: str) -> Job | None:
    """The job with this id; None for an unknown id or one that cannot be an id."""
    return session.get(Job, job_id) if len(job_id) <= JOB_ID_MAX else None


def tenant_job(session: Session, tenant: str, job_id: str) -> Job | None:
    """The tenant's job; None when it is missing, another tenant's, or deleted through the API."""
    job = find_job(session, job_id)
    if job is None or job.tenant != tenant:
        return None
    info = session.get(JobApi, job_id)
    if info is not None and info.deleted_at is not None:
        return None
    return job


def list_jobs(
    session: Session,
    tenant: str | None,
    *,
    limit: int,
    after: Job | None = None,
    status: str | None = None,
    since: datetime | None = None,
) -> list[Job]:
    """The jobs not deleted (of ``tenant``, or every tenant's; created at ``since`` or later),
    newest first, starting after the job ``after``."""
    query = select(Job).outerjoin(JobApi, JobApi.job_id == Job.id)
    query = query.where(JobApi.deleted_at.is_(None))
    if tenant is not None:
        query = query.where(Job.tenant == tenant)
    if status:
        query = query.where(Job.status == status)
    if since is not None:
        query = query.where(Job.created_at >= since)
    if after is not None:
        query = query.where(tuple_(Job.created_at, Job.id) < (after.created_at, after.id))
    return list(session.scalars(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)))


def ids_starting(session: Session, prefix: str, limit: int = 2) -> list[str]:
    """Up to ``limit`` job ids that start with ``prefix`` (a short id as the CLI prints it)."""
    if not prefix or len(prefix) > JOB_ID_MAX:
        return []
    query = select(Job.id).where(Job.id.startswith(prefix, autoescape=True)).order_by(Job.id)
    return list(session.scalars(query.limit(limit)))


def shot_counts(
    session: Session, job_ids: Collection[str], done: Collection[str]
) -> dict[str, tuple[int, int]]:
    """Per job: how many of its shots are in one of the ``done`` states, and how many it has."""
    if not job_ids:
        return {}
    rows = session.execute(
        select(Shot.job_id, Shot.status, func.count())
        .where(Shot.job_id.in_(list(job_ids)))
        .group_by(Shot.job_id, Shot.status)
    ).all()
    counts = dict.fromkeys(job_ids, (0, 0))
    for job_id, status, count in rows:
        finished, total = counts[job_id]
        counts[job_id] = (finished + (count if status in done else 0), total + count)
    return counts


def unfinished_finals(session: Session, preview_id: str) -> list[tuple[str, str, list[str]]]:
    """The preview's commits whose final job has not ended: (final id, its status, its shots)."""
    rows = session.execute(
        select(JobCommit.final_job_id, Job.status, JobCommit.shots)
        .join(Job, Job.id == JobCommit.final_job_id)
        .where(
            JobCommit.preview_job_id == preview_id,
            Job.status.in_((JobStatus.PLANNED, JobStatus.RUNNING)),
        )
        .order_by(Job.created_at)
    ).all()
    return [(final_id, str(status), list(shots)) for final_id, status, shots in rows]


def output_claimed(session: Session, path: str) -> bool:
    """Whether some job writes (or wrote) its deliverable to ``path``."""
    return session.scalar(select(Job.id).where(Job.output_path == path).limit(1)) is not None


def shots_of(session: Session, job_id: str) -> list[Shot]:
    """The job's shots in storyboard order."""
    return list(session.scalars(select(Shot).where(Shot.job_id == job_id).order_by(Shot.position)))


def previous_shot(session: Session, shot: Shot) -> Shot | None:
    """The shot just before ``shot`` in its job's storyboard order, if any."""
    return session.scalar(
        select(Shot).where(Shot.job_id == shot.job_id, Shot.position == shot.position - 1)
    )


def job_of_asset(session: Session, asset_path: str, model_id: str) -> str | None:
    """The provider job id of the latest attempt of ``model_id`` whose fetched asset is
    ``asset_path`` (the shot cache shares assets across jobs, so any job's attempt counts)."""
    return session.scalar(
        select(Attempt.provider_job_id)
        .where(Attempt.asset_path == asset_path, Attempt.model_id == model_id,
               Attempt.provider_job_id.is_not(None))
        .order_by(Attempt.id.desc())
        .limit(1)
    )  # fmt: skip


def job_status(session: Session, job_id: str) -> str | None:
    return session.scalar(select(Job.status).where(Job.id == job_id))


def shot_statuses(session: Session, job_id: str) -> list[str]:
    return list(session.scalars(select(Shot.status).where(Shot.job_id == job_id)))


def shot_by_key(session: Session, job_id: str, key: str) -> Shot | None:
    return session.scalars(select(Shot).where(Shot.job_id == job_id, Shot.key == key)).first()


def attempts_of(session: Session, shot_id: int) -> list[Attempt]:
    """The shot's attempts, first first."""
    return list(
        session.scalars(select(Attempt).where(Attempt.shot_id == shot_id).order_by(Attempt.number))
    )


def attempts_by_shot(session: Session, job_id: str) -> dict[int, list[Attempt]]:
    """Every attempt of the job, by shot id, first first (one query for the whole job)."""
    found: dict[int, list[Attempt]] = {}
    rows = session.scalars(
        select(Attempt)
        .join(Shot, Shot.id == Attempt.shot_id)
        .where(Shot.job_id == job_id)
        .order_by(Attempt.shot_id, Attempt.number)
    )
    for attempt in rows:
        found.setdefault(attempt.shot_id, []).append(attempt)
    return found


def last_attempt_number(session: Session, shot_id: int) -> int:
    """The highest attempt number of the shot (0 before its first attempt)."""
    number = session.scalar(
        select(func.coalesce(func.max(Attempt.number), 0)).where(
            Attempt.shot_id == shot_id,
            Attempt.stage == Stage.VIDEO,  # the stages before it number below 0
        )
    )
    return int(number or 0)


def quoted_total(session: Session, job_id: str) -> float:
    """What every attempt of the job was quoted at, together."""
    total = session.scalar(
        select(func.coalesce(func.sum(Attempt.quoted_usd), 0.0))
        .join(Shot, Shot.id == Attempt.shot_id)
        .where(Shot.job_id == job_id)
    )
    return float(total or 0.0)


def add_api_record(
    session: Session,
    job_id: str,
    tenant: str,
    *,
    source: str,
    webhook_url: str | None,
    video: dict[str, Any] | None = None,
) -> JobApi:
    """Record what the API knows of a job beyond the pipeline (its origin and webhook)."""
    record = JobApi(
        job_id=job_id, tenant=tenant, source=source, webhook_url=webhook_url, video=video
    )
    session.add(record)
    return record


def api_record(session: Session, job_id: str) -> JobApi | None:
    return session.get(JobApi, job_id)


def webhook_url_of(session: Session, job_id: str) -> str | None:
    info = session.get(JobApi, job_id)
    return None if info is None else info.webhook_url


def mark_deleted(session: Session, job_id: str, when: datetime) -> None:
    """Record that the job was deleted through the API (it then reads as missing)."""
    session.get_one(JobApi, job_id).deleted_at = when


def deliveries_of(session: Session, job_id: str) -> list[WebhookDelivery]:
    """The job's outgoing webhook messages, oldest first."""
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.job_id == job_id)
            .order_by(WebhookDelivery.id)
        )
    )


def attempts_with_status(
    session: Session, status: str, *, job_id: str | None = None, tenant: str | None = None
) -> list[tuple[Attempt, Shot]]:
    """Attempts in ``status`` with their shots (of one job, of one tenant's jobs, or all), oldest
    first."""
    query = (
        select(Attempt, Shot)
        .join(Shot, Shot.id == Attempt.shot_id)
        .where(Attempt.status == status)
        .order_by(Attempt.id)
    )
    if job_id is not None:
        query = query.where(Shot.job_id == job_id)
    if tenant is not None:
        query = query.join(Job, Job.id == Shot.job_id).where(Job.tenant == tenant)
    return [(attempt, shot) for attempt, shot in session.execute(query).all()]
