"""Signed webhook deliveries, as the real services send them, once an emulated job ends.

Replicate (``webhook`` in the create body) and Gemini (``webhookConfig.uris``) sign with Standard
Webhooks using the scenario's ``webhook_secret``; fal (``?fal_webhook=``) signs with an ED25519 key
derived from the scenario seed, published at ``/_emulator/fal-jwks.json``. Deliveries are tried a
few times and never block a request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.webhooks import fal_headers, standard_headers
from emulators.state import Emulator, Job
from foundation.tls import tls_context

FAL_USER_ID = "emulator-user"
TERMINAL = ("succeeded", "failed", "canceled")
Payload = Callable[[Job], dict[str, Any]]
_PENDING: set[asyncio.Task[None]] = set()


def fal_key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"fal:{seed}".encode()).digest())


def schedule(emu: Emulator, job: Job, url: str, scheme: str, payload: Payload) -> None:
    """Deliver ``payload(job)`` to ``url`` when ``job`` ends (``scheme``: standard | fal)."""
    task = asyncio.get_running_loop().create_task(_deliver(emu, job, url, scheme, payload))
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)


async def _deliver(emu: Emulator, job: Job, url: str, scheme: str, payload: Payload) -> None:
    while emu.view(job).phase not in TERMINAL:
        await asyncio.sleep(0.05)
    body = json.dumps(payload(job)).encode()
    if scheme == "fal":
        headers = fal_headers(fal_key(emu.scenario.seed), job.id, FAL_USER_ID, body)
    else:
        headers = standard_headers(emu.scenario.webhook_secret, body, msg_id=f"msg_{job.id}")
    headers["content-type"] = "application/json"
    async with httpx.AsyncClient(timeout=5, verify=tls_context()) as client:
        for attempt in range(3):
            try:
                answer = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError:
                answer = None
            delivered = answer is not None and answer.is_success
            emu.stats.webhooks["delivered" if delivered else "failed"] += 1
            if delivered:
                return
            await asyncio.sleep(0.1 * (attempt + 1))
