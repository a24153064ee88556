"""Request and response bodies of the API (pydantic at the edge)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from foundation import money
from foundation.storyboard import Mode


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]

Usd = Annotated[float, PlainSerializer(money.to_json, return_type=float)]
"""A money field of a response: a JSON number of at most six decimal places (``foundation.money``),
so no float drift such as ``1.9600000000000002`` reaches a client."""


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class JobCreate(Schema):
    """``POST /v1/jobs`` as JSON. A YAML body (``application/yaml``) is the storyboard alone.
    The OpenAPI document shows ``storyboard`` as ``Storyboard`` or a string."""

    model_config = ConfigDict(extra="forbid")

    storyboard: dict[str, Any] | str = Field(
        description="the storyboard: an object, or YAML / JSON text"
    )
    mode: Mode | None = None
    budget_usd: float | None = Field(
        default=None, ge=0, le=money.MAX_BUDGET_USD, allow_inf_nan=False
    )
    webhook_url: str | None = Field(default=None, max_length=2000)


class RerenderRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    prompt: str | None = Field(default=None, min_length=1, max_length=4000)
    model: str | None = Field(default=None, min_length=1, max_length=100)


class AttemptRead(Schema):
    id: int
    number: int
    model: str
    provider: str
    status: str
    provider_job_id: str | None
    quoted_usd: Usd
    settled_usd: Usd | None
    error_kind: str | None
    error: str | None
    verdict: dict[str, Any] | None
    render_seconds: float | None
    resolve_url: str | None = Field(
        default=None,
        description="for a submission_unknown attempt: POST here to resolve it "
        "(body: {provider_job_id} or {not_submitted: true})",
    )


class ResolveRequest(Schema):
    """How a ``submission_unknown`` attempt ended: the provider job its create made (found in
    the provider's dashboard), or ``not_submitted`` (the create never reached the provider)."""

    provider_job_id: str | None = Field(default=None, min_length=1, max_length=200)
    not_submitted: bool = False


class ShotRead(Schema):
    id: str
    scene: str
    status: str
    model: str | None
    attempts: int
    fallbacks: int
    verdict: str
    findings: list[dict[str, Any]]
    seconds: float
    cost_usd: Usd
    error: str | None
    route: dict[str, Any] | None
    attempt_log: list[AttemptRead]
    asset_url: str | None


class Costs(Schema):
    budget_usd: Usd | None
    quoted_usd: Usd
    reserved_usd: Usd
    settled_usd: Usd = Field(description="what the providers charged (GET /v1/costs settled_usd)")
    spent_usd: Usd = Field(
        description="what the job's attempts cost: provider charges plus judge fees, the sum of "
        "its shots' cost_usd (GET /v1/costs spent_usd)"
    )


class JobRead(Schema):
    id: str
    title: str
    status: str
    stage: str
    mode: str
    providers: str
    emulated: bool
    error: str | None
    error_shot: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    costs: Costs
    timings: dict[str, float]
    verification: dict[str, Any] | None
    webhook_url: str | None
    links: dict[str, str]
    shots: list[ShotRead]


class JobSummary(Schema):
    id: str
    title: str
    status: str
    stage: str
    mode: str
    spent_usd: Usd
    created_at: UtcDatetime
    updated_at: UtcDatetime


class JobList(Schema):
    data: list[JobSummary]
    next_cursor: str | None


class PlanRead(Schema):
    title: str
    mode: str
    ok: bool = Field(
        description="the job would be created: every shot routable and the budget (if any) "
        "pays the cheapest routing"
    )
    providers: list[str]
    shots: list[dict[str, Any]]
    unroutable: list[dict[str, Any]]
    long_shots: list[dict[str, Any]] = Field(
        default_factory=list,
        description="shots longer than any model renders, planned as chains of parts (render, "
        "extend: the provider's own extend operation, continue: from the last frame)",
    )
    forecast: dict[str, Any]
    variants: list[dict[str, Any]] = Field(
        default_factory=list,
        description="per output variant and shot: reframe ($0) or native (extra quote), and why",
    )
    budget_refused: str | None = Field(
        default=None,
        description="why creating the job would be refused with 402 (the budget cannot pay the "
        "cheapest routing with its stages' quotes); null when it fits",
    )
    uncommittable: list[dict[str, str]] = Field(
        default_factory=list,
        description="for a preview: the shots a commit could not take to final, each with the "
        "path and the reason the commit would refuse it for (after the preview was paid)",
    )


class DeliveryRead(Schema):
    msg_id: str
    event_type: str
    url: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class DeliveryList(Schema):
    data: list[DeliveryRead]


class WebhookSecret(Schema):
    secret: str


class ModelsRead(Schema):
    models: list[dict[str, Any]]
    fallback_chains: dict[str, list[str]]


class CostRow(Schema):
    model: str
    provider: str
    attempts: int
    settled_usd: Usd


class Health(Schema):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str]


class VideoError(Schema):
    code: str
    message: str


class Video(Schema):
    """The OpenAI Videos ``video`` object."""

    id: str
    object: Literal["video"] = "video"
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int
    created_at: int
    completed_at: int | None
    expires_at: int | None
    prompt: str | None
    seconds: str
    size: str
    remixed_from_video_id: str | None = None
    error: VideoError | None


class VideoCreate(Schema):
    """``POST /v1/videos`` fields (multipart form or JSON); ``input_reference`` is an image file."""

    prompt: str = Field(min_length=1, max_length=4000)
    model: str = Field(default="sora-2", max_length=100)
    seconds: str = Field(default="4", max_length=8)
    size: str = Field(default="720x1280", max_length=16)


class VideoList(Schema):
    object: Literal["list"] = "list"
    data: list[Video]
    first_id: str | None
    last_id: str | None
    has_more: bool


class JobDeleted(Schema):
    id: str
    object: Literal["job.deleted"] = "job.deleted"
    deleted: bool


class VideoDeleted(Schema):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool
