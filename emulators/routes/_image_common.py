"""What the emulated image APIs share: the scenario gate (faults, rate limits, safety refusals),
the picture (``adapters._images_local.draw_image``: deterministic in prompt, size, seed and the
references' mean colour, so tests can measure it), and a store for images served by URL (fal).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from adapters._images_local import draw_image, encode
from adapters.images import Reference
from emulators.routes import _flow as flow
from emulators.wire import fault_response


@dataclass
class ImageStore:
    """Images the emulator serves at ``/_images/{name}`` and fal's queued image requests."""

    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_id(self, prefix: str) -> str:
        with self.lock:
            return f"{prefix}{next(self.counter):08d}"


_STATE_LOCK = threading.Lock()


def store(request: Request) -> ImageStore:
    """The app's image store, made on first use."""
    state = request.app.state
    with _STATE_LOCK:
        if not hasattr(state, "image_store"):
            state.image_store = ImageStore()
    found: ImageStore = state.image_store
    return found


@dataclass(frozen=True)
class Gate:
    """``response``: answer this instead (an HTTP fault); ``refused``: the scenario's
    ``safety_refusal`` picked this call; ``fault``: a JSON fault to apply to the answer;
    ``outcome``: the scenario's outcome fault for the call (``safety_refusal``, ``job_failure``...)."""

    response: Response | None
    refused: bool
    fault: Any
    outcome: str | None = None


async def gate(request: Request, provider: str, model: str, raw: bytes, prompt: str) -> Gate:
    """Count the create call; the scenario's HTTP fault for it, or whether it is refused."""
    emu = flow.emulator(request)
    attempt, fault = emu.admit(provider, model, raw, prompt)
    if fault is not None:
        answer = await fault_response(provider, fault)
        if answer is not None:
            return Gate(answer, False, None)
    outcome = emu.job_fault(provider, model, attempt, prompt)
    return Gate(None, outcome == "safety_refusal", fault, outcome)


def picture(
    prompt: str,
    width: int,
    height: int,
    seed: int | None,
    references: list[Reference],
    mime: str = "image/png",
) -> bytes:
    """The emulated provider's image (no caption: a provider draws no text it was not asked)."""
    return encode(draw_image(prompt, width, height, seed, references, caption=False), mime)


def data_uri_reference(value: str) -> Reference | None:
    """A ``data:`` URI as a reference (None: not a data URI, or not base64)."""
    if not value.startswith("data:"):
        return None
    head, _, payload = value.partition(",")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
    return Reference(data, head.removeprefix("data:").split(";")[0] or "image/png")
