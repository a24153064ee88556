"""Downloads of a job: the MP4 (with HTTP Range), its edit plan, the edit for NLEs (OTIO, FCPXML,
EDL), per-shot assets and segments, the poster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi import Path as PathParam
from starlette.datastructures import Headers
from starlette.responses import (
    FileResponse,
    MalformedRangeHeader,
    RangeNotSatisfiable,
    RedirectResponse,
    Response,
)
from starlette.types import Receive, Scope, Send

from api import views
from api.deps import ApiState, StateDep, TenantDep
from api.errors import AUTH, JobConflictError, error_body, error_response, responses
from api.viewer import ViewerDep
from foundation.errors import NotFoundError
from foundation.states import SHOT_HAS_CLIP, JobStatus, ShotStatus
from pipeline.assets import AssetStore, sibling
from stitching import EditPlan, interchange
from store import jobs
from store.db import session_scope

router = APIRouter(prefix="/v1", tags=["downloads"])


class RangeFileResponse(FileResponse):
    """A ``FileResponse`` whose Range errors (400, 416) use the API's error shape."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http_range = Headers(scope=scope).get("range")
        if http_range is not None:
            size = Path(self.path).stat().st_size
            try:
                self._parse_range_header(http_range, size)
            except MalformedRangeHeader as exc:
                body = error_body("bad_request", exc.content)
                await error_response(400, body)(scope, receive, send)
                return
            except RangeNotSatisfiable:
                body = error_body("range_not_satisfiable", f"the file has {size} bytes")
                headers = {"Content-Range": f"bytes */{size}"}
                await error_response(416, body, headers)(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


SIGNED: dict[int | str, dict[str, Any]] = {
    307: {"description": "with an S3 asset store: a signed URL of the bucket to get it from"}
}


def binary(
    media_type: str, ranged: bool = False, stored: bool = False
) -> dict[int | str, dict[str, Any]]:
    content = {media_type: {"schema": {"type": "string", "format": "binary"}}}
    out: dict[int | str, dict[str, Any]] = {200: {"content": content, "description": "the file"}}
    if stored:
        out |= SIGNED
    if ranged:
        out[206] = {"content": content, "description": "the requested byte range"}
        out |= responses(400, 416)
    return out | responses(*AUTH, 404, 409, 422)


def _delivered_output(state: ApiState, tenant: str, job_id: str) -> str:
    """The output's reference in the asset store (its path when the store is local)."""
    with session_scope(state.db_url) as session:
        job = views.owned_job(session, tenant, job_id)
        status, output = job.status, job.output_path
    if status != JobStatus.DELIVERED or not output:
        raise JobConflictError(f"job {job_id} has no output yet ({status})", job=job_id)
    if not state.ctx.assets.exists(output):
        raise NotFoundError(f"the output of job {job_id} is no longer stored")
    return output


def _sibling(assets: AssetStore, output: str, suffix: str) -> str:
    ref = sibling(output, suffix)
    if not assets.exists(ref):
        raise NotFoundError(f"{suffix} is not available")
    return ref


def stored_file(
    assets: AssetStore, ref: str, media_type: str, filename: str | None = None
) -> Response:
    """The file at ``ref``: a 307 to a signed URL of the asset store when it is remote (the
    client downloads from the bucket, with Range), else the file itself with Range support."""
    url = assets.url(ref, filename)
    if url is not None:
        return RedirectResponse(url, status_code=307)
    return RangeFileResponse(ref, media_type=media_type, filename=filename)


def _read_text(assets: AssetStore, ref: str) -> str:
    return assets.local(ref).read_text(encoding="utf-8")


@router.get(
    "/jobs/{job_id}/output",
    response_class=RangeFileResponse,
    responses=binary("video/mp4", ranged=True, stored=True),
    summary="The stitched MP4 (supports Range requests)",
)
def output(job_id: str, state: StateDep, tenant: TenantDep) -> Response:
    ref = _delivered_output(state, tenant, job_id)
    return stored_file(state.ctx.assets, ref, "video/mp4", f"{job_id}.mp4")


@router.get(
    "/jobs/{job_id}/output/variants/{label}",
    response_class=RangeFileResponse,
    responses=binary("video/mp4", ranged=True, stored=True),
    summary="A variant of the output in another aspect ratio (``output.variants``), reframed",
)
def output_variant(
    job_id: str,
    label: Annotated[str, PathParam(pattern=r"^[0-9]{1,5}x[0-9]{1,5}$")],
    state: StateDep,
    tenant: TenantDep,
) -> Response:
    assets = state.ctx.assets
    ref = _sibling(assets, _delivered_output(state, tenant, job_id), f"{label}.mp4")
    return stored_file(assets, ref, "video/mp4", f"{job_id}.{label}.mp4")


@router.get(
    "/jobs/{job_id}/output/plan",
    response_model=dict[str, Any],
    responses=responses(*AUTH, 404, 409, 422),
    summary="The edit plan the output was assembled from (frames and samples per shot)",
)
def output_plan(job_id: str, state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    assets = state.ctx.assets
    ref = _sibling(assets, _delivered_output(state, tenant, job_id), "plan.json")
    plan: dict[str, Any] = views.without_paths(json.loads(_read_text(assets, ref)))
    return plan


EDIT_MEDIA = {"otio": "application/json", "fcpxml": "application/xml", "edl": "text/plain"}


@router.get(
    "/jobs/{job_id}/output/edit/{fmt}",
    response_class=Response,
    responses={
        200: {
            "content": {media: {"schema": {"type": "string"}} for media in EDIT_MEDIA.values()},
            "description": "the edit",
        },
        **responses(*AUTH, 404, 409, 422),
    },
    summary="The edit for an NLE: OpenTimelineIO, FCPXML or CMX 3600 EDL",
    description="The output's edit plan as a timeline an editor opens in Resolve, Premiere or "
    "Final Cut Pro. Media are named by file name only (no server path): put the edit beside "
    "the shots' segments (`/shots/{shot_id}/segment`).",
)
def output_edit(
    job_id: str, fmt: Literal["otio", "fcpxml", "edl"], state: StateDep, tenant: TenantDep
) -> Response:
    assets = state.ctx.assets
    output = _delivered_output(state, tenant, job_id)
    plan = EditPlan.from_json(_read_text(assets, _sibling(assets, output, "plan.json")))
    text = interchange.render(plan, fmt, Path(output.rpartition("/")[2]).stem, portable=True)
    disposition = f'attachment; filename="{job_id}.{fmt}"'
    return Response(text, media_type=EDIT_MEDIA[fmt], headers={"content-disposition": disposition})


@router.get(
    "/jobs/{job_id}/poster",
    response_class=FileResponse,
    responses=binary("image/jpeg", stored=True),
    summary="A poster frame of the output",
)
def poster(job_id: str, state: StateDep, tenant: TenantDep) -> Response:
    assets = state.ctx.assets
    ref = _sibling(assets, _delivered_output(state, tenant, job_id), "poster.jpg")
    url = assets.url(ref)
    return RedirectResponse(url, 307) if url else FileResponse(ref, media_type="image/jpeg")


@router.get(
    "/jobs/{job_id}/shots/{shot_id}/asset",
    response_class=RangeFileResponse,
    responses=binary("video/mp4", ranged=True, stored=True),
    summary="The accepted clip of one shot, as the provider delivered it",
)
def shot_asset(job_id: str, shot_id: str, state: StateDep, viewer: ViewerDep) -> Response:
    viewer.job(state.db_url, job_id)
    with session_scope(state.db_url) as session:
        shot = jobs.shot_by_key(session, job_id, shot_id)
        if shot is None:
            raise NotFoundError(f"job {job_id} has no shot {shot_id}")
        status, asset = shot.status, shot.asset_path
    if status not in SHOT_HAS_CLIP or not asset:
        raise JobConflictError(f"shot {shot_id} has no accepted clip ({status})", job=job_id)
    if not state.ctx.assets.exists(asset):
        raise NotFoundError(f"the clip of shot {shot_id} is no longer stored")
    return stored_file(state.ctx.assets, asset, "video/mp4", f"{job_id}-{shot_id}.mp4")


@router.get(
    "/jobs/{job_id}/shots/{shot_id}/segment",
    response_class=RangeFileResponse,
    responses=binary("video/mp4", ranged=True, stored=True),
    summary="The shot normalised to the output profile: the media the edit for NLEs names",
)
def shot_segment(job_id: str, shot_id: str, state: StateDep, tenant: TenantDep) -> Response:
    with session_scope(state.db_url) as session:
        views.owned_job(session, tenant, job_id)
        shot = jobs.shot_by_key(session, job_id, shot_id)
        if shot is None:
            raise NotFoundError(f"job {job_id} has no shot {shot_id}")
        status, segment = shot.status, dict(shot.segment or {})
    if status != ShotStatus.NORMALISED or not segment.get("path"):
        raise JobConflictError(f"shot {shot_id} is not normalised ({status})", job=job_id)
    ref = str(segment["path"])
    if not state.ctx.assets.exists(ref):
        raise NotFoundError(f"the segment of shot {shot_id} is no longer stored")
    return stored_file(state.ctx.assets, ref, "video/mp4", ref.rpartition("/")[2])
