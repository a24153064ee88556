"""From a request body to a running job: parse (JSON envelope or raw YAML), check the webhook URL,
fetch reference images safely, create the job, start it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

import router
from api.schemas import JobCreate
from api.urls import UnsafeUrlError
from pipeline import history
from pipeline.planning import create_job
from shotline.errors import InvalidInputError, Problem
from shotline.storyboard import (
    Mode,
    Storyboard,
    StoryboardError,
    parse_storyboard,
    parse_storyboard_text,
)
from store.db import session_scope
from store.models import JobApi

if TYPE_CHECKING:
    from api.deps import ApiState

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


@dataclass(frozen=True)
class JobRequest:
    board: Storyboard
    mode: Mode | None
    webhook_url: str | None


def _prefixed(exc: InvalidInputError, prefix: str) -> InvalidInputError:
    problems = [
        Problem(f"{prefix}.{p.path}" if p.path else prefix, p.message) for p in exc.problems
    ]
    return StoryboardError(exc.summary, problems)


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
    if media in YAML_TYPES:
        board = parse_storyboard_text(text, "storyboard")
    elif media in ("application/json", ""):
        try:
            envelope = _envelope(json.loads(text))
        except json.JSONDecodeError as exc:
            raise InvalidInputError("the body is not JSON", [Problem("", str(exc))]) from None
        try:
            raw = envelope.storyboard
            board = (
                parse_storyboard_text(raw, "storyboard")
                if isinstance(raw, str)
                else parse_storyboard(raw, "storyboard")
            )
        except StoryboardError as exc:
            raise _prefixed(exc, "storyboard") from None
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
    return JobRequest(board, mode, webhook_url)


def fetch_references(state: ApiState, board: Storyboard, prefix: str = "storyboard") -> Storyboard:
    """Replace every shot's ``reference_image`` URL with the fetched, checked local file."""
    refs = [
        (s_index, k_index, shot.reference_image)
        for s_index, scene in enumerate(board.scenes)
        for k_index, shot in enumerate(scene.shots)
        if shot.reference_image
    ]
    if not refs:
        return board
    data = board.model_dump(mode="json")
    problems: list[Problem] = []
    dest = state.ctx.settings.assets / "references"
    for s_index, k_index, url in refs:
        path = f"{prefix}.scenes[{s_index}].shots[{k_index}].reference_image"
        try:
            local = state.outbound.fetch_image(
                str(url), path, dest, state.settings.max_upload_bytes
            )
        except UnsafeUrlError as exc:
            problems += exc.problems
            continue
        data["scenes"][s_index]["shots"][k_index]["reference_image"] = str(local)
    if problems:
        raise InvalidInputError("reference images cannot be used", problems)
    return parse_storyboard(data, "storyboard")


def check_webhook(state: ApiState, url: str | None) -> None:
    if url is not None:
        state.outbound.policy.check(url, "webhook_url")


def start_job(
    state: ApiState,
    tenant: str,
    request: JobRequest,
    *,
    source: str = "jobs",
    video: dict[str, Any] | None = None,
    fetch: bool = True,
) -> str:
    """Create, record and start a job; returns its id. ``fetch=False`` when the storyboard's
    reference images are already local files the API stored itself."""
    check_webhook(state, request.webhook_url)
    board = fetch_references(state, request.board) if fetch else request.board
    job_id = create_job(state.ctx, board, mode=request.mode, tenant=tenant)
    with session_scope(state.db_url) as session:
        session.add(
            JobApi(
                job_id=job_id,
                tenant=tenant,
                source=source,
                webhook_url=request.webhook_url,
                video=video,
            )
        )
    state.runner.submit(job_id)
    return job_id


def plan_job(state: ApiState, request: JobRequest) -> dict[str, Any]:
    """The dry run: routes and forecast, unroutable shots listed; nothing is written or spent."""
    ctx = state.ctx
    availability = router.provider_availability(ctx.providers, ctx.settings)
    plan = router.plan(
        request.board,
        ctx.registry,
        mode=request.mode or request.board.mode,
        providers=availability.enabled,
        unavailable=availability.unavailable,
        stats=history.stats_book(ctx),
    )
    return {"ok": plan.ok, **plan.to_dict()}
