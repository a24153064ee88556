"""The one place where errors become HTTP responses.

Every error body has one shape, ``ErrorBody``: ``{"error": code, "detail": message, "job", "shot",
"stage", "retriable"}``, plus ``problems`` (each with its path) for invalid input. Unexpected
exceptions are logged here and answered with a bare 500; no stack trace reaches a client.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from foundation.errors import InvalidInputError, JobFailedError, Problem, ShotlineError
from pipeline.errors import redact_paths
from store.errors import DATABASE_UNREACHABLE

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "invalid_input",
    429: "rate_limited",
}


class ProblemBody(BaseModel):
    path: str
    message: str


class ErrorBody(BaseModel):
    error: str
    detail: str
    job: str | None = None
    shot: str | None = None
    stage: str | None = None
    retriable: bool = False
    problems: list[ProblemBody] | None = None


class UnauthorizedError(ShotlineError):
    status_code = 401


class RateLimitedError(ShotlineError):
    status_code = 429
    retriable = True

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class JobConflictError(ShotlineError):
    """The request conflicts with the job's current state (e.g. re-render of a running job)."""

    status_code = 409

    def __init__(self, message: str, job: str | None = None, shot: str | None = None) -> None:
        super().__init__(message)
        self.job = job
        self.shot = shot


_CODES = {"StoryboardError": "invalid_storyboard", "UnsafeUrlError": "unsafe_url"}


def error_code(exc: Exception) -> str:
    """``BudgetExceededError`` -> ``budget_exceeded`` (a few have friendlier names)."""
    if type(exc).__name__ in _CODES:
        return _CODES[type(exc).__name__]
    name = type(exc).__name__.removesuffix("Error") or "error"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def error_body(
    code: str,
    detail: str,
    *,
    retriable: bool = False,
    problems: list[Problem] | None = None,
    **where: str | None,
) -> dict[str, Any]:
    body = ErrorBody(
        error=code,
        detail=detail,
        retriable=retriable,
        problems=[ProblemBody(path=p.path, message=p.message) for p in problems]
        if problems
        else None,
        **where,
    )
    return body.model_dump()


def error_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def shotline_error_response(exc: ShotlineError) -> JSONResponse:
    """The error as the API answers it, with every server file path cut to its name (a fetched
    reference or music file is checked where the server keeps it, under the data folder)."""
    problems = None
    if isinstance(exc, InvalidInputError):
        problems = [Problem(p.path, redact_paths(p.message)) for p in exc.problems]
    detail = redact_paths(exc.summary if isinstance(exc, InvalidInputError) else exc.message)
    where = {
        "job": getattr(exc, "job", None),
        "shot": getattr(exc, "shot", None) or getattr(exc, "shot_id", None),
        "stage": getattr(exc, "stage", None) if isinstance(exc, JobFailedError) else None,
    }
    headers = None
    if isinstance(exc, RateLimitedError):
        headers = {"Retry-After": str(exc.retry_after_s)}
    elif isinstance(exc, UnauthorizedError):
        headers = {"WWW-Authenticate": "Bearer"}
    body = error_body(error_code(exc), detail, retriable=exc.retriable, problems=problems, **where)
    return error_response(exc.status_code, body, headers)


def _validation_problems(exc: RequestValidationError) -> list[Problem]:
    problems = []
    for item in exc.errors():
        loc = [str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path", "header")]
        problems.append(Problem(".".join(loc), str(item.get("msg", "invalid"))))
    return problems


async def _on_shotline(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ShotlineError)
    if exc.status_code >= 500:
        log.error("request failed: %s: %s", type(exc).__name__, exc.message)
    return shotline_error_response(exc)


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = _validation_problems(exc)
    body = error_body("invalid_input", "the request is invalid", problems=problems)
    return error_response(422, body)


# FastAPI's answer to a body it could not read as JSON (bytes that are not UTF-8, for one);
# every body-taking operation documents 422 for a body it cannot use, so that is what it gets.
_UNPARSEABLE_BODY = "There was an error parsing the body"


async def _on_http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNPARSEABLE_BODY:
        problems = [Problem("body", "is not valid JSON text (UTF-8)")]
        body = error_body("invalid_input", "the request body could not be read", problems=problems)
        return error_response(422, body)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    body = error_body(code, str(exc.detail), retriable=exc.status_code == 429)
    return error_response(exc.status_code, body, dict(exc.headers or {}))


DATABASE_RETRY_AFTER_S = 5


async def _on_database_unreachable(_: Request, exc: Exception) -> JSONResponse:
    """The database dropped or refused the connection, or stayed locked (the errors the engines
    retry later, ``flow.RETRY_LATER``): a 503 the client may retry, not an internal error."""
    log.error("the database is unavailable: %s", type(exc).__name__)
    body = error_body("database_unavailable", "the database is unavailable", retriable=True)
    return error_response(503, body, {"Retry-After": str(DATABASE_RETRY_AFTER_S)})


async def _on_unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled %s in a request", type(exc).__name__, exc_info=exc)
    body = error_body("internal", "an internal error occurred", retriable=True)
    return error_response(500, body)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ShotlineError, _on_shotline)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    for unreachable in DATABASE_UNREACHABLE:
        app.add_exception_handler(unreachable, _on_database_unreachable)
    app.add_exception_handler(Exception, _on_unexpected)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries: each status answers JSON ``ErrorBody`` (whatever the
    route's own media type is)."""
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    return {
        status: {"description": _HTTP_CODES.get(status, "error"), "content": content}
        for status in statuses
    }


AUTH = (401, 429)
