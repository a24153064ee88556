"""The OpenAI Videos API, served by a one-shot storyboard per video, so clients and automation
tools built for that API work unchanged: create (multipart or JSON), retrieve, list, download the
content (``variant`` video, thumbnail or spritesheet) and delete.

``model`` may name a registry model (pinned; a name with a ``/`` that is not one is refused) or an
OpenAI model (``*-pro`` renders in final mode, anything else in preview mode); ``size`` and ``seconds`` accept OpenAI's values and any other valid
size and duration.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy import select, tuple_
from starlette.datastructures import UploadFile
from starlette.responses import Response

from api import views
from api.deps import ApiState, StateDep, TenantDep
from api.errors import AUTH, JobConflictError, responses
from api.files import RangeFileResponse, binary, stored_file
from api.jobs import delete
from api.schemas import Video, VideoCreate, VideoDeleted, VideoList
from api.submit import JobRequest, inputs_dir, start_job
from api.urls import store_image
from foundation.documents import parse_json
from foundation.errors import InvalidInputError, NotFoundError, Problem
from foundation.states import JobStatus, ShotStatus
from foundation.storyboard import Mode, StoryboardError, parse_storyboard
from pipeline.assets import sibling
from store import jobs
from store.db import session_scope
from store.models import Job, JobApi

router = APIRouter(prefix="/v1", tags=["videos (OpenAI-compatible)"])
PREFIX = "video_"
_STATUS: dict[str, str] = {
    JobStatus.PLANNED: "queued",
    JobStatus.RUNNING: "in_progress",
    JobStatus.DELIVERED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "failed",
}
VIDEO_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "allOf": [{"$ref": "#/components/schemas/VideoCreate"}],
                    "properties": {"input_reference": {"type": "string", "format": "binary"}},
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/VideoCreate"}},
        },
    }
}


def _unix(value: datetime) -> int:
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())


def _job_id(video_id: str) -> str:
    if not video_id.startswith(PREFIX):
        raise NotFoundError(f"no video {video_id}")
    return video_id.removeprefix(PREFIX)


def video_object(session: Any, job: Job, info: JobApi) -> dict[str, Any]:
    params = info.video or {}
    shots = jobs.shot_statuses(session, job.id)
    done = sum(1 for s in shots if s == ShotStatus.NORMALISED)
    status = _STATUS.get(job.status, "failed")
    finished = status in ("completed", "failed")
    progress = 100 if finished else int(90 * done / max(1, len(shots)))
    error = None
    if status == "failed":
        code = "cancelled" if job.status == JobStatus.CANCELLED else "video_generation_failed"
        error = {"code": code, "message": views.without_paths(job.error or job.status)}
    return {
        "id": PREFIX + job.id,
        "object": "video",
        "model": params.get("model", "sora-2"),
        "status": status,
        "progress": progress,
        "created_at": _unix(job.created_at),
        "completed_at": _unix(job.updated_at) if finished else None,
        "expires_at": None,
        "prompt": params.get("prompt"),
        "seconds": str(params.get("seconds", "")),
        "size": str(params.get("size", "")),
        "remixed_from_video_id": None,
        "error": error,
    }


def _owned_video(session: Any, tenant: str, video_id: str) -> tuple[Job, JobApi]:
    job = views.owned_job(session, tenant, _job_id(video_id))
    info = jobs.api_record(session, job.id)
    if info is None or info.source != "videos":
        raise NotFoundError(f"no video {video_id}")
    return job, info


def read_video(db_url: str, tenant: str, video_id: str) -> dict[str, Any]:
    with session_scope(db_url) as session:
        job, info = _owned_video(session, tenant, video_id)
        return video_object(session, job, info)


def _decode_data_url(url: str, limit: int) -> bytes:
    head, _, data = url.partition(",")
    if ";base64" not in head or len(data) > limit * 4 // 3 + 8:
        raise InvalidInputError("bad input_reference", [Problem("input_reference", "too large")])
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(
            "bad input_reference", [Problem("input_reference", "not base64")]
        ) from None


async def _read_body(
    request: Request, limit: int
) -> tuple[dict[str, Any], bytes | None, str | None]:
    """Fields, an uploaded reference image, a reference image URL."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        data = await run_in_threadpool(parse_json, await request.body())
        if not isinstance(data, dict):
            raise InvalidInputError("the body must be an object", [Problem("", "not an object")])
        ref = data.pop("input_reference", None)
        url = ref.get("image_url") if isinstance(ref, dict) else None
        return data, None, url if isinstance(url, str) else None
    if media != "multipart/form-data":
        raise InvalidInputError(
            "unsupported content type",
            [Problem("content-type", "send multipart/form-data or application/json")],
        )
    form = await request.form(max_files=1, max_fields=20)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    upload = form.get("input_reference")
    raw = await upload.read(limit + 1) if isinstance(upload, UploadFile) else None
    if raw is not None and len(raw) > limit:
        raise InvalidInputError("bad input_reference", [Problem("input_reference", "too large")])
    url = fields.pop("input_reference[image_url]", None)
    return fields, raw, url


def _params(fields: dict[str, Any]) -> VideoCreate:
    try:
        return VideoCreate.model_validate(
            {k: fields[k] for k in ("prompt", "model", "seconds", "size") if k in fields}
        )
    except ValidationError as exc:
        problems = [Problem(".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
        raise InvalidInputError("the request is invalid", problems) from None


def _board(params: VideoCreate, reference: Path | None, pinned: str | None) -> Any:
    shot: dict[str, Any] = {"id": "video", "prompt": params.prompt, "duration": params.seconds}
    if pinned:
        shot["model"] = pinned
    if reference:
        shot["reference_image"] = str(reference)
    data = {
        "title": params.prompt[:200],
        "output": {"size": params.size},
        "scenes": [{"id": "video", "shots": [shot]}],
    }
    try:
        float(params.seconds)
    except ValueError:
        raise InvalidInputError("invalid seconds", [Problem("seconds", "not a number")]) from None
    try:
        return parse_storyboard(data, "video")
    except StoryboardError as exc:
        problems = [Problem(_FIELDS.get(p.path, "prompt"), p.message) for p in exc.problems]
        # the title is made of the prompt: one problem in it is reported at ``prompt`` once
        raise InvalidInputError("the request is invalid", list(dict.fromkeys(problems))) from None


def create(
    state: ApiState,
    tenant: str,
    params: VideoCreate,
    image: bytes | None,
    url: str | None,
    reference: Path | None = None,
) -> dict[str, Any]:
    """``reference``: the image of ``url`` when it was fetched already (``create_video``)."""
    refs = inputs_dir(state, tenant, "references")
    limit = state.settings.max_upload_bytes
    if url and url.startswith("data:"):
        image = _decode_data_url(url, limit)
    if image is not None:
        reference = store_image(image, "input_reference", refs)
    pinned = params.model if params.model in state.ctx.registry else None
    if pinned is None and "/" in params.model:
        why = f"no model {params.model!r} in the registry (GET /v1/models lists them)"
        raise InvalidInputError("unknown model", [Problem("model", why)])
    mode = Mode.FINAL if params.model.endswith("-pro") else Mode.PREVIEW
    board = _board(params, reference, pinned)
    video = {**params.model_dump(), "size": board.output.size}
    try:
        job_id = start_job(
            state, tenant, JobRequest(board, mode, None), source="videos", video=video
        )
    except InvalidInputError as exc:  # planning's refusals, at the request's own fields, once
        problems = [Problem(_FIELDS.get(p.path, p.path), p.message) for p in exc.problems]
        exc.problems = list(dict.fromkeys(problems))
        raise
    return read_video(state.db_url, tenant, PREFIX + job_id)


_FIELDS = {
    "title": "prompt",  # the title is made of the prompt
    "output.size": "size",
    "scenes[0].shots[0].duration": "seconds",
    "scenes[0].shots[0].reference_image": "input_reference",
    "scenes[0].shots[0].prompt": "prompt",
}
"""The request's field for each path of the storyboard it is made into."""


@router.post(
    "/videos",
    response_model=Video,
    responses=responses(*AUTH, 400, 402, 404, 413, 422),
    openapi_extra=VIDEO_BODY,
    summary="Create a video (OpenAI Videos API)",
)
async def create_video(request: Request, state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    fields, image, url = await _read_body(request, state.settings.max_upload_bytes)
    params = _params(fields)
    reference = None
    if url and not url.startswith("data:"):  # fetched on the event loop, off the sync routes' pool
        with state.outbound.slot(tenant):
            reference = await state.outbound.afetch_image(
                url, "input_reference", inputs_dir(state, tenant, "references"),
                state.settings.max_upload_bytes,
            )  # fmt: skip
    return await run_in_threadpool(create, state, tenant, params, image, url, reference)


@router.get("/videos/{video_id}", response_model=Video, responses=responses(*AUTH, 404, 422))
def retrieve_video(video_id: str, state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    return read_video(state.db_url, tenant, video_id)


@router.get("/videos", response_model=VideoList, responses=responses(*AUTH, 404, 422))
def list_videos(
    state: StateDep,
    tenant: TenantDep,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    with session_scope(state.db_url) as session:
        query = (
            select(Job, JobApi)
            .join(JobApi, JobApi.job_id == Job.id)
            .where(Job.tenant == tenant, JobApi.source == "videos", JobApi.deleted_at.is_(None))
        )
        if after:
            anchor, _ = _owned_video(session, tenant, after)
            position = tuple_(Job.created_at, Job.id)
            mark = (anchor.created_at, anchor.id)
            query = query.where(position > mark if order == "asc" else position < mark)
        sort = (
            (Job.created_at, Job.id) if order == "asc" else (Job.created_at.desc(), Job.id.desc())
        )
        rows = session.execute(query.order_by(*sort).limit(limit + 1)).all()
        data = [video_object(session, job, info) for job, info in rows[:limit]]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(rows) > limit,
    }


@router.get(
    "/videos/{video_id}/content",
    response_class=RangeFileResponse,
    responses=binary("video/mp4", ranged=True, stored=True),
    summary="Download the video (or its thumbnail / spritesheet)",
)
def video_content(
    video_id: str,
    state: StateDep,
    tenant: TenantDep,
    variant: Literal["video", "thumbnail", "spritesheet"] = "video",
) -> Response:
    with session_scope(state.db_url) as session:
        job, _ = _owned_video(session, tenant, video_id)
        status, output = job.status, job.output_path
    if status != JobStatus.DELIVERED or not output:
        raise JobConflictError(f"video {video_id} is not completed ({status})", job=job.id)
    suffix = {"video": None, "thumbnail": "poster.jpg", "spritesheet": "contact.jpg"}[variant]
    ref = sibling(output, suffix) if suffix else output
    if not state.ctx.assets.exists(ref):
        raise NotFoundError(f"the {variant} of video {video_id} is no longer stored")
    media = "video/mp4" if variant == "video" else "image/jpeg"
    return stored_file(state.ctx.assets, ref, media)


@router.delete(
    "/videos/{video_id}",
    response_model=VideoDeleted,
    responses=responses(*AUTH, 404, 422),
    summary="Delete a video and its stored files (a running one is cancelled first)",
)
def delete_video(video_id: str, state: StateDep, tenant: TenantDep) -> VideoDeleted:
    with session_scope(state.db_url) as session:
        job, _ = _owned_video(session, tenant, video_id)
        job_id = job.id
    delete(state, job_id)
    return VideoDeleted(id=video_id, deleted=True)
