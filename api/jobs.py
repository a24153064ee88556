"""``/v1/jobs``: submit (JSON or YAML), dry-run plan, list, read, cancel, re-render one shot, and
the webhook delivery log."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api import views
from api.deps import ApiState, StateDep, TenantDep
from api.errors import AUTH, JobConflictError, responses
from api.schemas import (
    DeliveryList,
    JobDeleted,
    JobList,
    JobRead,
    JobSummary,
    PlanRead,
    RerenderRequest,
    ResolveRequest,
)
from api.submit import fetch_inputs, parse_job_request, plan_job, prepare_job, start_job
from foundation.errors import ConflictError, InvalidInputError, NotFoundError
from foundation.money import MAX_BUDGET_USD
from foundation.states import JOB_UNFINISHED, JobStatus
from foundation.storyboard import Mode
from pipeline import recovery
from pipeline.assets import siblings
from pipeline.rerender import rerender_shot
from pipeline.runner import JobRunner
from store import jobs
from store.db import session_scope
from store.models import Job

router = APIRouter(prefix="/v1", tags=["jobs"])
log = logging.getLogger(__name__)
CANCEL_WAIT_S = 30.0

JOB_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/JobCreate"}},
            "application/yaml": {
                "schema": {"type": "string", "description": "a storyboard as YAML"}
            },
        },
    }
}
ModeQuery = Annotated[Mode | None, Query(description="preview or final (YAML bodies)")]
BudgetQuery = Annotated[
    float | None,
    Query(ge=0, le=MAX_BUDGET_USD, allow_inf_nan=False, description="budget in USD (YAML bodies)"),
]
WebhookQuery = Annotated[str | None, Query(max_length=2000, description="(YAML bodies)")]


async def _job_request(
    request: Request, mode: Mode | None, budget_usd: float | None, webhook_url: str | None
) -> Any:
    body = await request.body()
    # parsing and validation are CPU work on untrusted text: never on the event loop
    return await run_in_threadpool(
        parse_job_request,
        body,
        request.headers.get("content-type", ""),
        mode=mode,
        budget_usd=budget_usd,
        webhook_url=webhook_url,
    )


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobRead,
    responses=responses(*AUTH, 402, 404, 409, 413, 422),
    openapi_extra=JOB_BODY,
    summary="Submit a storyboard; the job starts at once",
)
async def create_job(
    request: Request,
    state: StateDep,
    tenant: TenantDep,
    mode: ModeQuery = None,
    budget_usd: BudgetQuery = None,
    webhook_url: WebhookQuery = None,
) -> JSONResponse:
    job_request = await _job_request(request, mode, budget_usd, webhook_url)
    job_request = await prepare_job(state, job_request, tenant)  # network, off the request threads
    job_id = await run_in_threadpool(start_job, state, tenant, job_request)
    view = await run_in_threadpool(views.job_view, state.db_url, job_id)
    body = JobRead.model_validate(view).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={"Location": f"/v1/jobs/{job_id}"})


@router.post(
    "/jobs:plan",
    response_model=PlanRead,
    responses=responses(*AUTH, 404, 413, 422),
    openapi_extra=JOB_BODY,
    summary="Dry run: routes and cost forecast, nothing spent",
)
async def plan(
    request: Request,
    state: StateDep,
    tenant: TenantDep,
    mode: ModeQuery = None,
    budget_usd: BudgetQuery = None,
    webhook_url: WebhookQuery = None,
) -> dict[str, Any]:
    job_request = await _job_request(request, mode, budget_usd, webhook_url)
    # checked as a job's would be (else a tenant could probe another tenant's stored files)
    job_request = await fetch_inputs(state, job_request, tenant)
    return await run_in_threadpool(plan_job, state, job_request, tenant)


@router.get("/jobs", response_model=JobList, responses=responses(*AUTH, 404, 422))
def list_jobs(
    state: StateDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> JobList:
    rows, nxt = views.list_jobs(state.db_url, tenant, limit=limit, cursor=cursor, status=status)
    return JobList(data=[JobSummary.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/jobs/{job_id}", response_model=JobRead, responses=responses(*AUTH, 404, 422))
def get_job(job_id: str, state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    return views.job_view(state.db_url, job_id, tenant)


def cancel(state: ApiState, job_id: str) -> None:
    """Stop a job: its rows are cancelled (every engine's steps read them); when it runs in this
    process, wait a moment for its steps to end."""
    state.runner.cancel(job_id)
    if _active(state.runner, job_id):
        try:
            state.runner.wait(job_id, timeout=CANCEL_WAIT_S)
        except Exception:  # a timeout or the job's own crash: the job view tells the state
            log.warning("job %s did not stop within %ss", job_id, CANCEL_WAIT_S)


def _active(runner: JobRunner, job_id: str) -> bool:
    return runner.is_running(job_id)


def delete(state: ApiState, job_id: str) -> None:
    """Delete a job the caller owns (``views.owned_job`` checked): cancelled first when it runs,
    then read as missing, and its stored files removed (its work and asset folders, its objects
    in the store, and its output with the files named after it)."""
    with session_scope(state.db_url) as session:
        job = session.get_one(Job, job_id)
        status, output, owner = job.status, job.output_path, job.tenant
    if status in JOB_UNFINISHED:
        cancel(state, job_id)
    with session_scope(state.db_url) as session:
        jobs.mark_deleted(session, job_id, datetime.now(UTC))
    for folder in (state.ctx.asset_dir(job_id), state.ctx.settings.work_dir / job_id):
        shutil.rmtree(folder, ignore_errors=True)
    state.ctx.assets.forget(f"{owner}/{job_id}")
    if output and not state.ctx.assets.remote:
        for path in siblings(Path(output)):
            path.unlink(missing_ok=True)


@router.delete(
    "/jobs/{job_id}",
    response_model=JobDeleted,
    responses=responses(*AUTH, 404, 422),
    summary="Delete a job and its stored files (a running one is cancelled first)",
)
def delete_job(job_id: str, state: StateDep, tenant: TenantDep) -> JobDeleted:
    views.check_owned(state.db_url, tenant, job_id)
    delete(state, job_id)
    return JobDeleted(id=job_id, deleted=True)


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobRead,
    responses=responses(*AUTH, 404, 409, 422),
    summary="Cancel a job: provider jobs are cancelled, reservations released",
)
def cancel_job(job_id: str, state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    job = views.check_owned(state.db_url, tenant, job_id)
    if job.status in (JobStatus.DELIVERED, JobStatus.FAILED):
        raise JobConflictError(f"job {job_id} already ended ({job.status})", job=job_id)
    if job.status != JobStatus.CANCELLED:
        cancel(state, job_id)
    return views.job_view(state.db_url, job_id)


@router.post(
    "/jobs/{job_id}/shots/{shot_id}/rerender",
    status_code=202,
    response_model=JobRead,
    responses=responses(*AUTH, 400, 402, 404, 409, 413, 422),
    summary="Re-render one shot (optionally a new prompt or a pinned model) and the shots "
    "continuing from it, then re-stitch; a shot the job renders in parts is named by its own id "
    "and re-rendered in all of them",
)
def rerender(
    job_id: str,
    shot_id: str,
    state: StateDep,
    tenant: TenantDep,
    body: RerenderRequest | None = None,
) -> dict[str, Any]:
    views.check_owned(state.db_url, tenant, job_id)
    body = body or RerenderRequest()
    try:
        rerender_shot(state.ctx, job_id, shot_id, prompt=body.prompt, model=body.model)
    except ConflictError as exc:
        raise JobConflictError(exc.message, job=job_id, shot=shot_id) from None
    state.runner.submit(job_id)
    return views.job_view(state.db_url, job_id)


@router.post(
    "/jobs/{job_id}/attempts/{attempt_id}:resolve",
    response_model=JobRead,
    responses=responses(*AUTH, 400, 404, 409, 422),
    summary="Resolve a submission_unknown attempt: the provider job its create made, or "
    "not_submitted (reservation released, the shot's next attempt); the job then continues",
)
def resolve_attempt(
    job_id: str, attempt_id: int, body: ResolveRequest, state: StateDep, tenant: TenantDep
) -> dict[str, Any]:
    views.check_owned(state.db_url, tenant, job_id)
    if (body.provider_job_id is None) != body.not_submitted:
        raise InvalidInputError("give exactly one of provider_job_id and not_submitted: true")
    if not views.attempt_in_job(state.db_url, job_id, attempt_id):
        raise NotFoundError(f"job {job_id} has no attempt {attempt_id}")
    try:
        recovery.resolve(state.ctx, attempt_id, body.provider_job_id)
    except ConflictError as exc:
        raise JobConflictError(exc.message, job=job_id) from None
    state.runner.submit(job_id)
    return views.job_view(state.db_url, job_id)


@router.get(
    "/jobs/{job_id}/webhooks",
    response_model=DeliveryList,
    responses=responses(*AUTH, 404, 422),
    summary="The job's outgoing webhook deliveries",
)
def deliveries(job_id: str, state: StateDep, tenant: TenantDep) -> DeliveryList:
    views.check_owned(state.db_url, tenant, job_id)
    with session_scope(state.db_url) as session:
        return DeliveryList.model_validate({"data": jobs.deliveries_of(session, job_id)})
