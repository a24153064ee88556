"""The create and poll flows every emulated provider shares; routes only speak the wire format."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from emulators.media import ClipSpec
from emulators.scenario import Fault
from emulators.state import Emulator, Job, View
from emulators.wire import error_response, fault_response, unknown_job_response

ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:3": (4, 3), "3:4": (3, 4)}
ASPECTS |= {"21:9": (21, 9), "9:21": (9, 21)}


class BadRequest(ValueError):
    """The emulated provider refuses the body (400 in the vendor's shape)."""


def emulator(request: Request) -> Emulator:
    emu: Emulator = request.app.state.emulator
    return emu


def root(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def dims(aspect: str, short_side: int) -> tuple[int, int]:
    """Frame size for an aspect ratio name and the short side (``"16:9"``, 720 -> 1280x720)."""
    if aspect not in ASPECTS:
        raise BadRequest(f"unsupported aspect ratio {aspect!r}")
    w, h = ASPECTS[aspect]
    long_side = round(short_side * max(w, h) / min(w, h) / 2) * 2
    return (long_side, short_side) if w >= h else (short_side, long_side)


def resolution_short(value: str | None, default: int = 720) -> int:
    if not value:
        return default
    text = str(value).lower().rstrip("p")
    return 2160 if text == "4k" else int(text)


def seconds(value: Any, name: str = "duration") -> float:
    """``8``, ``"8"``, ``"8s"`` -> 8.0 (lenient, as several vendors accept strings)."""
    try:
        result = float(str(value).lower().rstrip("s"))
    except ValueError as exc:
        raise BadRequest(f"{name} must be a number of seconds, got {value!r}") from exc
    if not 0 < result <= 60:
        raise BadRequest(f"{name} out of range: {value!r}")
    return result


async def json_body(request: Request) -> tuple[bytes, dict[str, Any]]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except json.JSONDecodeError as exc:
        raise BadRequest(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return raw, data


@dataclass(frozen=True)
class Created:
    job: Job | None
    response: Response | None
    fault: Fault | None


async def create(
    request: Request,
    provider: str,
    spec: ClipSpec,
    raw: bytes,
    prefix: str = "",
    tag: str | None = None,
) -> Created:
    """Count the call, apply submit faults, and register the job when the call is accepted.

    No provider emulated here dedupes a repeated create by an ``Idempotency-Key`` header: none of
    the official SDKs sends one (runwayml 5.24.0, lumaai 1.21.0, openai 3.60.0, replicate 1.0.7,
    fal-client 1.0.3, google-genai 3.6.1) and none documents one for video creation, so a repeat is
    a second billed job, as in production. Kling's ``external_task_id`` (a repeat refused with
    400/1201) is checked by its own route before this; ``tag`` is such a client id, counted.
    """
    emu = emulator(request)
    attempt, fault = emu.admit(provider, spec.model, raw, spec.prompt)
    if fault is not None:
        answer = await fault_response(provider, fault)
        if answer is not None:
            return Created(None, answer, None)
    emu.tagged(provider, tag)
    job = emu.create_job(provider, spec, attempt, prefix)
    return Created(job, None, fault)


@dataclass(frozen=True)
class Polled:
    job: Job | None
    view: View | None
    response: Response | None
    fault: Fault | None


async def poll(request: Request, provider: str, job_id: str) -> Polled:
    emu = emulator(request)
    job = emu.jobs.get(job_id)
    if job is None:
        return Polled(None, None, unknown_job_response(provider, job_id), None)
    view = emu.view(job)
    fault = emu.poll_fault(job)
    if fault is not None:
        answer = await fault_response(provider, fault)
        if answer is not None:
            return Polled(job, view, answer, None)
    return Polled(job, view, None, fault)


def file_url(request: Request, job: Job) -> str:
    return root(request) + emulator(request).mint_url(job)


def iso(monotonic_at: float) -> str:
    wall = time.time() - (time.monotonic() - monotonic_at)
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(wall))


def unix(monotonic_at: float) -> int:
    return int(wall(monotonic_at))


def wall(monotonic_at: float) -> float:
    """Epoch seconds of a ``time.monotonic()`` instant."""
    return time.time() - (time.monotonic() - monotonic_at)


def epoch(text: str) -> float:
    """Epoch seconds of an ISO 8601 time (``Z`` or an offset; a bare date is midnight UTC)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def bad_request(provider: str, exc: BadRequest) -> Response:
    return error_response(provider, 400, str(exc))
