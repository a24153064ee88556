"""What both Kling standards share: auth, the error envelope, the account-wide
``external_task_id`` table, task registration and the new-standard task record (sources:
``_kling_rules``)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from emulators.media import ClipSpec
from emulators.routes import _flow as flow
from emulators.routes import _kling_rules as rules
from emulators.state import Job, View
from emulators.wire import refused_key, respond

PROVIDER = "kling"
_STATUS = {
    "queued": "submitted",
    "throttled": "submitted",
    "running": "processing",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "failed",
}
# units per second ([T3]/[TT] pricing page kling.ai/document-api/pricing/base/video, 2026-09-20)
_UNITS = {
    ("kling-3.0", "720p"): (0.6, 0.9),
    ("kling-3.0", "1080p"): (0.8, 1.2),
    ("kling-3.0", "4k"): (3.0, 3.0),
    ("kling-3.0-turbo", "720p"): (0.8, 0.8),
    ("kling-3.0-turbo", "1080p"): (1.0, 1.0),
}
SAFETY_MESSAGE = "Failure to pass the risk control system (content safety)"


def envelope(data: Any) -> dict[str, Any]:
    return {"code": 0, "message": "SUCCEED", "request_id": str(uuid.uuid4()), "data": data}


def refusal(exc: rules.KlingRefusal) -> JSONResponse:
    """Kling's error envelope ([ERR]): HTTP status by business code, ``{code, message, request_id}``."""
    body = {"code": exc.code, "message": str(exc), "request_id": str(uuid.uuid4())}
    return JSONResponse(body, status_code=exc.status)


def check_auth(request: Request, new_standard: bool) -> None:
    """[AUTH]: ``Authorization: Bearer <API key>`` everywhere; a JWT minted from AK/SK only on the
    legacy standard. The new standard answers a JWT with 401/1002 and this message ([SPEC] LIVE
    2026-09-20). Expired / not-yet-valid tokens are 1004 / 1003 ([ERR])."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if not token:
        raise rules.KlingRefusal(1001, "Authorization is empty")
    if scheme.lower() != "bearer" or refused_key(request):
        raise rules.KlingRefusal(1002, "Authorization is invalid")
    claims = _jwt_claims(token)
    if claims is None:
        return
    if new_standard:
        raise rules.KlingRefusal(
            1002,
            "Authentication error. The current API does not support AK/SK; please go to the "
            "console (https://kling.ai/dev/api-key) to create API key.",
        )
    now = time.time()
    if not isinstance(claims.get("iss"), str):
        raise rules.KlingRefusal(1002, "Authorization is invalid")
    if float(claims.get("nbf", 0)) > now:
        raise rules.KlingRefusal(1003, "Authorization is not yet valid")
    if float(claims.get("exp", now + 1)) < now:
        raise rules.KlingRefusal(1004, "Authorization has expired")


def _jwt_claims(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        head = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
        body = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    if not isinstance(head, dict) or head.get("alg") is None or not isinstance(body, dict):
        return None
    return body


def refs(request: Request) -> dict[str, str]:
    """``external_task_id`` -> task id, account-wide; ``""`` while a create holding it is open."""
    state = request.app.state
    if not hasattr(state, "kling_refs"):
        state.kling_refs = {}
    table: dict[str, str] = state.kling_refs
    return table


def reserve(request: Request, ref: str | None) -> None:
    if ref is None:
        return
    table = refs(request)
    if ref in table:  # [SPEC] LIVE 2026-09-22: 400/1201, the task is not created, nothing billed
        raise rules.invalid(f"external_task_id {ref} already exists")
    table[ref] = ""


async def create(
    request: Request,
    spec: ClipSpec,
    raw: bytes,
    ref: str | None,
    extra: dict[str, Any],
    payload: Callable[[Job], dict[str, Any]],
) -> Response:
    """Register the task (faults apply) and answer with ``payload(job)``; a refused create frees
    its ``external_task_id`` again, since no task was made."""
    reserve(request, ref)
    created = await flow.create(request, PROVIDER, spec, raw, tag=ref)
    if created.response is not None:
        refs(request).pop(ref or "", None)
        return created.response
    job = created.job
    assert job is not None
    job.extra.update(extra | {"external_id": ref})
    if ref is not None:
        refs(request)[ref] = job.id
    return respond(envelope(payload(job)), created.fault)


def created_payload(job: Job) -> dict[str, Any]:
    stamp = flow.unix(job.created_at) * 1000
    ref = job.extra.get("external_id")
    return {"id": job.id, "status": "submitted", "create_time": stamp, "update_time": stamp} | (
        {"external_id": ref} if ref else {}
    )


def record(request: Request, job: Job, view: View) -> dict[str, Any]:
    """One task as ``GET /tasks`` lists it ([T3] "Query Task"): outputs only when succeeded,
    billing deducted on completion ([SPEC] LIVE: units land when the task succeeds)."""
    stamp = flow.unix(job.created_at) * 1000
    data: dict[str, Any] = {
        "id": job.id,
        "status": _STATUS[view.phase],
        "create_time": stamp,
        "update_time": stamp,
        "outputs": [],
    }
    if job.extra.get("external_id"):
        data["external_id"] = job.extra["external_id"]
    if view.phase == "succeeded":
        url = flow.file_url(request, job)
        data["outputs"] = [
            {"type": "video", "id": job.id, "url": url, "duration": str(job.spec.duration_s)}
        ]
        data["billing"] = [{"charge_type": "unit", "amount": units(job), "package_type": "video"}]
    elif view.phase in ("failed", "canceled"):
        safety = job.outcome == "safety_refusal"
        data["message"] = SAFETY_MESSAGE if safety else view.error
    return data


def units(job: Job) -> str:
    key = (job.spec.model, str(job.extra.get("resolution", "720p")))
    silent, voiced = _UNITS.get(key, (0.6, 0.9))
    return f"{(voiced if job.spec.audio else silent) * job.spec.duration_s:.1f}"


class Window:
    """A cursor query's filter ([TT] "Query Task (By Cursor)"); the cursor is an offset here."""

    def __init__(self, body: dict[str, Any]) -> None:
        now = int(time.time() * 1000)
        self.end = _millis(body.get("end_time"), now)
        self.start = _millis(body.get("start_time"), self.end - 30 * 86_400_000)
        if self.start >= self.end:
            raise rules.invalid("start_time must be earlier than end_time")
        limit = body.get("limit", 100)
        if not isinstance(limit, int) or not 1 <= limit <= 500:
            raise rules.invalid("limit must be between 1 and 500")
        self.limit = limit
        cursor = str(body.get("cursor") or "0")
        if not cursor.isdigit():
            raise rules.invalid("cursor is invalid")
        self.offset = int(cursor)
        self.statuses: set[str] = set()
        for item in body.get("filters") or []:
            if not isinstance(item, dict) or item.get("key") not in ("status", "product_type"):
                raise rules.invalid("filters[].key must be status or product_type")
            if item["key"] == "status":
                self.statuses |= {str(value) for value in item.get("values") or []}


def _millis(value: object, default: int) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise rules.invalid("start_time and end_time are Unix timestamps in milliseconds")
    return value
