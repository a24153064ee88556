"""Vendor-shaped HTTP answers: error bodies and rate-limit hints as each provider sends them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from emulators.scenario import Fault

_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# Kling business code per HTTP status, from its error-code table (kling.ai/document-api/api/
# get-started/error-codes, snapshot 2026-09-20 in aself101/kling-api docs/api/)
_KLING_CODES = {
    400: 1200,
    401: 1000,
    403: 1103,
    404: 1202,
    429: 1302,
    500: 5000,
    503: 5001,
    504: 5002,
}


def _hint_headers(retry_after: float | None, provider: str) -> dict[str, str]:
    if retry_after is None or provider in ("runway", "kling", "google"):
        return {}
    headers = {"Retry-After": str(max(1, round(retry_after)))}
    if provider == "openai":
        headers["retry-after-ms"] = str(round(retry_after * 1000))
    return headers


def error_body(provider: str, status: int, message: str, retry_after: float | None) -> Any:
    """The JSON error body ``provider`` sends for ``status``."""
    if provider in ("google", "gemini"):
        error: dict[str, Any] = {
            "code": status,
            "message": message,
            "status": _GOOGLE_STATUS.get(status, "UNKNOWN"),
        }
        if status == 429 and retry_after is not None:
            error["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{retry_after}s",
                }
            ]
        return {"error": error}
    if provider == "openai":
        # {"error": {message, type, param, code}} [SDK] openai 3.60.0 ``_exceptions.py`` reads
        # ``body["error"]``; type/code values as the API sends them (429: ``rate_limit_exceeded``
        # for both; 5xx: ``server_error``; 4xx: ``invalid_request_error`` with a code or null).
        kind = "invalid_request_error"
        if status == 429:
            kind = "rate_limit_exceeded"
        elif status >= 500:
            kind = "server_error"
        code = "rate_limit_exceeded" if status == 429 else None
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}
    if provider == "replicate":
        return replicate_problem(status, message, retry_after)
    if provider == "kling":
        return {"code": _KLING_CODES.get(status, 5000), "message": message, "request_id": "emu"}
    if provider == "runway":
        return {"error": message}
    if provider == "elevenlabs":
        return elevenlabs_error(status, message)
    return {"detail": message}


# ElevenLabs' ``detail`` object (elevenlabs.io/docs/eleven-api/resources/errors, stored copy read
# 2026-12-05): ``code`` ("429 ... rate_limit_exceeded or concurrent_limit_exceeded"; the page's
# example: a 400 ``invalid_parameters``), ``message``, ``status`` (the legacy field, equal to
# ``code`` in the example), ``request_id``. The 5xx codes are UNCERTAIN, and ``type`` is left out:
# the page's table of types was not in the stored copy (UNCERTAIN).
_ELEVENLABS_CODES = {400: "invalid_parameters", 429: "rate_limit_exceeded"}


def elevenlabs_error(status: int, message: str) -> dict[str, Any]:
    code = _ELEVENLABS_CODES.get(status, "internal_server_error" if status >= 500 else "error")
    detail = {"code": code, "message": message, "status": code, "request_id": "emu"}
    return {"detail": detail}


def replicate_problem(
    status: int, message: str, retry_after: float | None = None, title: str | None = None
) -> dict[str, Any]:
    """Replicate's problem body ([SDK] replicate 1.0.7 ``exceptions.py`` reads ``title``,
    ``detail``, ``status``): 404 ``{"detail": "The requested resource could not be found.",
    "status": 404}``, 401 ``{"title": "Unauthenticated", "detail": ..., "status": 401}``, 429
    ``{"detail": "Request was throttled. ..."}`` ([3P] bodies quoted by integrators, 2025-2026;
    providers.md section 6). No ``type`` member is sent."""
    if status == 429:
        message = f"Request was throttled. Your rate limit resets in ~{round(retry_after or 30)}s."
    body: dict[str, Any] = {"detail": message, "status": status}
    if title is not None:
        body["title"] = title
    return body


def error_response(
    provider: str, status: int, message: str, retry_after: float | None = None
) -> JSONResponse:
    headers = _hint_headers(retry_after, provider) if status == 429 else {}
    if provider == "fal":
        headers["x-fal-error-type"] = "rate_limited" if status == 429 else "server_error"
    return JSONResponse(
        error_body(provider, status, message, retry_after), status_code=status, headers=headers
    )


_UNKNOWN_JOB = {
    # [DOC] docs.dev.runwayml.com/api-details/errors: "a 404 when the referenced resource is not
    # available"; the SDK's tasks.delete: "deleted tasks will not be able to be fetched again"
    # (runwayml sdk-python tasks.py); the wording: a live GET after DELETE (2026-08-26, see
    # routes/runway.py ``delete_task``)
    "runway": "Could not find Task",
    # the wording of Luma's and OpenAI's 404 is UNCERTAIN; their error shapes are ``detail``
    # (docs.agents.lumalabs.ai/guides/error-handling) and ``error`` (openai 3.60.0 _exceptions.py)
    "luma": "Generation not found",
    "openai": "Video not found",
    # google.rpc NOT_FOUND: google-genai 3.6.1 raises ``ClientError`` 404 for an operation it cannot
    # find (its operations docs); the message is UNCERTAIN
    "google": "Operation not found",
}


def unknown_job_response(provider: str, job_id: str) -> Response:
    """What ``provider`` answers a status or result request for a job id it does not know (one
    it never made, expired, deleted, or lost): 404 in its error shape. Replicate: its problem body
    for any unknown resource (``replicate_problem`` sources); fal: ``{"detail": "Request not
    found"}``, as the emulator's queue cancel and image queue answer (UNCERTAIN wording), with no
    ``x-fal-error-type`` (it marks a runner's failure). Kling answers its own way
    (``routes/kling.py``, ``routes/_kling_legacy.py``)."""
    if provider == "replicate":
        return JSONResponse(
            replicate_problem(404, "The requested resource could not be found."), status_code=404
        )
    if provider == "fal":
        return JSONResponse({"detail": "Request not found"}, status_code=404)
    message = _UNKNOWN_JOB.get(provider, f"{job_id} not found")
    return JSONResponse(error_body(provider, 404, message, None), status_code=404)


async def fault_response(provider: str, fault: Fault) -> Response | None:
    """Answer for an HTTP fault; ``None`` means answer normally (after a hang, or for JSON faults
    that are applied to the normal body by ``respond``)."""
    if fault.kind == "rate_limit":
        message = fault.message or "Rate limit exceeded"
        return error_response(provider, 429, message, fault.retry_after_s)
    if fault.kind == "server_error":
        message = fault.message or "The service is temporarily overloaded"
        return error_response(provider, fault.status, message)
    if fault.kind == "bad_request":
        return error_response(provider, 400, fault.message or "Invalid request parameters")
    if fault.kind == "hang":
        await asyncio.sleep(fault.seconds)
    return None


def respond(payload: Any, fault: Fault | None = None, status: int = 200) -> Response:
    """The normal JSON answer, mangled when ``fault`` asks for malformed or truncated JSON."""
    text = json.dumps(payload)
    if fault is not None and fault.kind == "truncated_json":
        return Response(text[: len(text) // 2], status_code=status, media_type="application/json")
    if fault is not None and fault.kind == "malformed_json":
        page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
        return Response(page, status_code=status, media_type="application/json")
    return Response(text, status_code=status, media_type="application/json")


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() in ("bearer", "key", "token") else None


def refused_key(request: Request) -> bool:
    """True when the request's credential is one the scenario lists in ``invalid_keys`` (a revoked
    or mistyped key): the provider answers it as it answers any invalid key."""
    invalid = request.app.state.emulator.scenario.invalid_keys
    if not invalid:
        return False
    _, _, token = request.headers.get("authorization", "").partition(" ")
    sent = {token.strip(), request.headers.get("x-goog-api-key", "")}
    return any(key in sent for key in invalid)
