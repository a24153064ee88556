"""ORM models: a job, its shots, their attempts, the event stream and the ledger. Every state change
of the pipeline is a row here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from foundation.states import AttemptStatus, JobStatus, ShotStatus

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Job(Base):
    __tablename__ = "job"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), default="local", index=True)
    title: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(16))
    providers: Mapped[str] = mapped_column(String(32), default="local")
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PLANNED, index=True)
    stage: Mapped[str] = mapped_column(String(32), default="planned")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    error_shot: Mapped[str | None] = mapped_column(String(64), default=None)
    storyboard: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(64), default="", index=True)
    output_path: Mapped[str | None] = mapped_column(Text, default=None)
    budget_usd: Mapped[float | None] = mapped_column(Float, default=None)
    reserved_usd: Mapped[float] = mapped_column(Float, default=0.0)
    spent_usd: Mapped[float] = mapped_column(Float, default=0.0)
    verification: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Shot(Base):
    __tablename__ = "shot"
    __table_args__ = (UniqueConstraint("job_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    scene_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=ShotStatus.PLANNED)
    route: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    model_id: Mapped[str | None] = mapped_column(String(100), default=None)
    verdict: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    asset_path: Mapped[str | None] = mapped_column(Text, default=None)
    segment: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    cache_key: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Attempt(Base):
    __tablename__ = "attempt"
    __table_args__ = (UniqueConstraint("shot_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shot_id: Mapped[int] = mapped_column(ForeignKey("shot.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    model_id: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default=AttemptStatus.RESERVED)
    provider_job_id: Mapped[str | None] = mapped_column(String(200), default=None)
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    quoted_usd: Mapped[float] = mapped_column(Float, default=0.0)
    settled_usd: Mapped[float | None] = mapped_column(Float, default=None)
    error_kind: Mapped[str | None] = mapped_column(String(32), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    verdict: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    asset_path: Mapped[str | None] = mapped_column(Text, default=None)
    render_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    # ``foundation.states.Stage``: the video, or a stage run before it (numbered below zero)
    stage: Mapped[str] = mapped_column(String(16), default="video", server_default="video")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Event(Base):
    __tablename__ = "event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), index=True)
    shot_key: Mapped[str | None] = mapped_column(String(64), default=None)
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LedgerEntry(Base):
    __tablename__ = "ledger_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), index=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempt.id"), default=None)
    shot_key: Mapped[str | None] = mapped_column(String(64), default=None)
    model_id: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    amount_usd: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- HTTP API (api/): keys, tenants, per-job API facts, idempotency records, webhook deliveries ---


class ApiKey(Base):
    """An API key of one tenant, stored as its SHA-256 (the key itself is shown once)."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class ApiTenant(Base):
    """A tenant of the API and the secret its outgoing webhooks are signed with."""

    __tablename__ = "api_tenant"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    webhook_secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JobApi(Base):
    """What the API knows about a job beyond the pipeline: its webhook, its origin, deletion."""

    __tablename__ = "job_api"

    job_id: Mapped[str] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(16), default="jobs")
    webhook_url: Mapped[str | None] = mapped_column(Text, default=None)
    video: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class IdempotencyRecord(Base):
    """The first response to a POST carrying an ``Idempotency-Key``, replayed on retries."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("tenant", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    content_type: Mapped[str | None] = mapped_column(String(100), default=None)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookDelivery(Base):
    """One outgoing webhook message and its delivery attempts (the per-job delivery log)."""

    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), index=True)
    tenant: Mapped[str] = mapped_column(String(64))
    msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


# --- distributed engine (pipeline/tasks.py): where each shot and job is, and who works on it ---


class PipelineStep(Base):
    """The next step of one shot (``shot:<pk>``) or one job (``job:<id>``) under the Celery engine.

    ``version`` changes on every transition and travels with the queued message, so a stale or
    duplicated message finds a newer version and does nothing. ``due_at`` is when the step should
    have started (NULL: it waits for another step); a step past due and not leased is re-enqueued by
    the reaper. ``lease_until`` is set while a worker runs the step. Times are epoch seconds.
    """

    __tablename__ = "pipeline_step"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str | None] = mapped_column(String(64), default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    due_at: Mapped[float | None] = mapped_column(Float, default=None, index=True)
    since: Mapped[float | None] = mapped_column(Float, default=None)
    lease_until: Mapped[float | None] = mapped_column(Float, default=None)
    holder: Mapped[str | None] = mapped_column(String(200), default=None)
    reaped: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


# --- costs (ledger/): the per-attempt cost record and the preview-then-commit links ---


class AttemptCost(Base):
    """The ledger's record of one attempt, accepted or not: quoted, reserved and settled cost, the
    seconds asked for and accepted, the verdict, render time, and the drift between what the
    provider billed and what the registry computed. Kept in step with its attempt by
    ``ledger.records``."""

    __tablename__ = "attempt_cost"

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempt.id", ondelete="CASCADE"), primary_key=True
    )
    job_id: Mapped[str] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), index=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    shot_key: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    model_id: Mapped[str] = mapped_column(String(100), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    quoted_usd: Mapped[float] = mapped_column(Float, default=0.0)
    reserved_usd: Mapped[float] = mapped_column(Float, default=0.0)
    settled_usd: Mapped[float | None] = mapped_column(Float, default=None)
    judge_usd: Mapped[float] = mapped_column(Float, default=0.0)
    computed_usd: Mapped[float] = mapped_column(Float, default=0.0)
    reported_usd: Mapped[float | None] = mapped_column(Float, default=None)
    drift: Mapped[float | None] = mapped_column(Float, default=None)
    drift_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    seconds_planned: Mapped[float] = mapped_column(Float, default=0.0)
    seconds_requested: Mapped[float] = mapped_column(Float, default=0.0)
    seconds_accepted: Mapped[float] = mapped_column(Float, default=0.0)
    verdict: Mapped[str] = mapped_column(String(16), default="pending")
    defects: Mapped[list[str]] = mapped_column(JSON, default=list)
    error_kind: Mapped[str | None] = mapped_column(String(32), default=None)
    render_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    # how the provider job ended for billing, which rule priced it (reported | billed | free |
    # unknown | no_job) and whether that rule is one the provider does not document
    billing_outcome: Mapped[str | None] = mapped_column(String(24), default=None)
    billing_basis: Mapped[str | None] = mapped_column(String(16), default=None)
    billing_uncertain: Mapped[bool] = mapped_column(Boolean, default=False)
    # the job ran on emulated providers (``Job.providers == "emulated"``): no money changed hands
    emulated: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class JobCommit(Base):
    """A preview job's commit: the final job rendering the approved shots, the shots kept at
    preview (and which of them the reviewer declined), the quote it was admitted on, what every
    shot would have cost at final (for the cost avoided), and the preview/final agreement once the
    final is delivered."""

    __tablename__ = "job_commit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    preview_job_id: Mapped[str] = mapped_column(
        ForeignKey("job.id", ondelete="CASCADE"), index=True
    )
    final_job_id: Mapped[str] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), unique=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    shots: Mapped[list[str]] = mapped_column(JSON)
    kept: Mapped[list[str]] = mapped_column(JSON)
    # the kept shots the reviewer declined at final (the rest of ``kept`` were not reviewed)
    rejected: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    quote: Mapped[dict[str, Any]] = mapped_column(JSON)
    final_usd_by_shot: Mapped[dict[str, float]] = mapped_column(JSON)
    agreement: Mapped[dict[str, float] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
