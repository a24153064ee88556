"""From a request body to a running job: parse (JSON envelope or raw YAML), check the webhook URL,
fetch reference images safely, create the job, start it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import ValidationError

from api.schemas import JobCreate
from api.urls import UnsafeUrlError
from foundation.documents import parse_json, set_path
from foundation.errors import InvalidInputError, Problem
from foundation.storyboard import (
    Mode,
    Storyboard,
    StoryboardError,
    parse_storyboard,
    parse_storyboard_text,
)
from pipeline.commit_final import uncommittable
from pipeline.planning import budget_refusal, create_job, route
from quality.screening import board_images
from store import jobs
from store.db import session_scope

if TYPE_CHECKING:
    from api.deps import ApiState

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
FETCHES_PER_REQUEST = 4


@dataclass(frozen=True)
class JobRequest:
    board: Storyboard
    mode: Mode | None
    webhook_url: str | None
    where: str = ""
    """Where the storyboard is in the request body: ``storyboard`` in a JSON envelope, ``""`` for
    a YAML body (the storyboard itself). Every refusal's path is relative to the body."""


def _at(where: str, path: str) -> str:
    return f"{where}.{path}" if where and path else where or path


def _prefixed(exc: InvalidInputError, prefix: str) -> InvalidInputError:
    return StoryboardError(
        exc.summary, [Problem(_at(prefix, p.path), p.message) for p in exc.problems]
    )


@contextmanager
def paths_in_body(where: str) -> Iterator[None]:
    """Refusals raised by planning name paths in the storyboard: moved under ``where`` (the
    storyboard's place in the request body), as validation's are."""
    try:
        yield
    except InvalidInputError as exc:
        exc.problems = [Problem(_at(where, p.path), p.message) for p in exc.problems]
        raise


def _envelope(data: Any) -> JobCreate:
    if not isinstance(data, dict):
        raise InvalidInputError("the body must be a JSON object", [Problem("", "not an object")])
    try:
        return JobCreate.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(".".join(str(p) for p in e["loc"]), e["msg"].removeprefix("Value error, "))
            for e in exc.errors()
        ]
        raise InvalidInputError("the request is invalid", problems) from None


def parse_job_request(
    body: bytes,
    content_type: str,
    *,
    mode: Mode | None = None,
    budget_usd: float | None = None,
    webhook_url: str | None = None,
) -> JobRequest:
    """A JSON ``JobCreate`` envelope, or a YAML storyboard with the options as query parameters."""
    media = content_type.split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError("the body is not UTF-8", [Problem("", "not UTF-8")]) from None
    where = ""
    if media in YAML_TYPES:
        board = parse_storyboard_text(text, "storyboard")
    elif media in ("application/json", ""):
        envelope = _envelope(parse_json(text))
        try:
            raw = envelope.storyboard
            board = (
                parse_storyboard_text(raw, "storyboard")
                if isinstance(raw, str)
                else parse_storyboard(raw, "storyboard")
            )
        except StoryboardError as exc:
            raise _prefixed(exc, "storyboard") from None
        where = "storyboard"
        mode = envelope.mode or mode
        budget_usd = envelope.budget_usd if envelope.budget_usd is not None else budget_usd
        webhook_url = envelope.webhook_url or webhook_url
    else:
        raise InvalidInputError(
            "unsupported content type",
            [Problem("content-type", "send application/json or application/yaml")],
        )
    if budget_usd is not None:
        board = board.model_copy(update={"budget_usd": budget_usd})
    return JobRequest(board, mode, webhook_url, where)


def inputs_dir(state: ApiState, tenant: str, kind: str) -> Path:
    """Where the API keeps the files a tenant's requests name (``references``, ``music``): one
    directory per tenant, so no tenant's file is another's (tenants never meet)."""
    return state.ctx.settings.assets / kind / tenant


async def fetch_references(
    state: ApiState, board: Storyboard, tenant: str, prefix: str
) -> Storyboard:
    """Replace every image URL of the storyboard (the shots' ``reference_image``, the characters'
    ``reference_images``) with the fetched, checked local file. The downloads run on the event
    loop (a few at once, each URL once), never in the sync routes' threads; the request holds one
    of the outbound slots meanwhile. A path on the server's disk is refused like a bad URL."""
    urls: dict[str, list[str]] = {}
    for path, image in board_images(board):
        urls.setdefault(image, []).append(path)
    if not urls:
        return board
    dest = inputs_dir(state, tenant, "references")
    got: dict[str, Path | UnsafeUrlError] = {}
    gate = anyio.Semaphore(FETCHES_PER_REQUEST)

    async def fetch(url: str, where: str) -> None:
        async with gate:
            try:
                got[url] = await state.outbound.afetch_image(
                    url, where, dest, state.settings.max_upload_bytes
                )
            except UnsafeUrlError as exc:
                got[url] = exc

    with state.outbound.slot(tenant):
        async with anyio.create_task_group() as group:
            for url, paths in urls.items():
                group.start_soon(fetch, url, _at(prefix, paths[0]))
    return _with_references(board, urls, got, prefix)


def _with_references(
    board: Storyboard,
    urls: dict[str, list[str]],
    got: dict[str, Path | UnsafeUrlError],
    prefix: str,
) -> Storyboard:
    data = board.model_dump(mode="json")
    problems: list[Problem] = []
    for url, paths in urls.items():
        result = got[url]
        for path in paths:
            if isinstance(result, UnsafeUrlError):
                problems += [Problem(_at(prefix, path), p.message) for p in result.problems]
            else:
                set_path(data, path, str(result))
                if path.endswith(".keyframe"):  # a keyframe path is the shot's reference_image too
                    set_path(data, path.removesuffix("keyframe") + "reference_image", str(result))
    if problems:
        problems.sort(key=lambda p: _natural(p.path))
        raise InvalidInputError("reference images cannot be used", problems)
    return parse_storyboard(data, "storyboard")


async def fetch_music(state: ApiState, board: Storyboard, tenant: str, prefix: str) -> Storyboard:
    """Replace the music bed's URL with the fetched local file. The API never reads a path on
    its own disk for a tenant: a ``music.file`` that is not an http(s) URL is refused."""
    music = board.music
    if music is None or music.file is None:
        return board
    where = _at(prefix, "music.file")
    if not music.file.lower().startswith(("http://", "https://")):
        message = "must be an http(s) URL: the API does not read files on its own disk"
        raise InvalidInputError("the music bed cannot be used", [Problem(where, message)])
    dest = inputs_dir(state, tenant, "music")
    with state.outbound.slot(tenant):
        local = await state.outbound.afetch_audio(
            music.file, where, dest, state.settings.max_upload_bytes
        )
    return board.model_copy(update={"music": music.model_copy(update={"file": str(local)})})


def _natural(path: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


async def fetch_inputs(state: ApiState, request: JobRequest, tenant: str) -> JobRequest:
    """The reference images and the music bed fetched and checked (``fetch_references``,
    ``fetch_music``): a path on the server's disk is refused, never read."""
    board = await fetch_references(state, request.board, tenant, request.where)
    board = await fetch_music(state, board, tenant, request.where)
    return replace(request, board=board)


async def prepare_job(state: ApiState, request: JobRequest, tenant: str) -> JobRequest:
    """Check the webhook URL, then fetch the inputs (``fetch_inputs``): everything a job needs
    from the network before ``start_job``, done without blocking the event loop or the sync
    routes."""
    if request.webhook_url is not None:
        await state.outbound.acheck(request.webhook_url, "webhook_url")
    return await fetch_inputs(state, request, tenant)


def start_job(
    state: ApiState,
    tenant: str,
    request: JobRequest,
    *,
    source: str = "jobs",
    video: dict[str, Any] | None = None,
) -> str:
    """Create, record and start a job; returns its id. The storyboard's reference images are
    local files already (``prepare_job``, or files the API stored itself)."""
    with paths_in_body(request.where):
        job_id = create_job(state.ctx, request.board, mode=request.mode, tenant=tenant)
    with session_scope(state.db_url) as session:
        jobs.add_api_record(
            session, job_id, tenant, source=source, webhook_url=request.webhook_url, video=video
        )
    state.runner.submit(job_id)
    return job_id


def plan_job(state: ApiState, request: JobRequest, tenant: str) -> dict[str, Any]:
    """The dry run: routes and forecast, unroutable shots listed, and the refusal job creation
    would answer (402) when the budget cannot pay the cheapest routing; nothing is written or
    spent. ``ok``: the job would be created."""
    mode = request.mode or request.board.mode
    with paths_in_body(request.where):
        plan = route(state.ctx, request.board, mode, tenant)
        later = uncommittable(state.ctx, request.board, tenant) if mode == Mode.PREVIEW else []
    refusal = budget_refusal(state.ctx, request.board, plan, mode)
    return {
        "ok": plan.ok and refusal is None,
        **plan.to_dict(),
        "budget_refused": refusal.message if refusal else None,
        "uncommittable": [{"path": p.path, "message": p.message} for p in later],
    }
