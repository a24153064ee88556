"""fal's webhook signing keys (its published JWKS), fetched without blocking the event loop.

Keys that were fetched are kept for ``ttl_s``; a failure (an error, a timeout, a document without
ED25519 keys) is kept for ``retry_s``, so while fal's endpoint fails each delivery is refused at once
instead of waiting on it again. One fetch runs at a time; deliveries arriving meanwhile wait for its
result instead of starting their own.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from adapters.webhooks import WebhookVerificationError, fal_keys_from_jwks
from foundation.tls import tls_context

log = logging.getLogger(__name__)
Loader = Callable[[str], Awaitable[list[Any]]]
MAX_JWKS_BYTES = 64 * 1024
_LOAD_ERRORS = (httpx.HTTPError, TimeoutError, ValueError, TypeError, AttributeError, KeyError)


async def load_jwks(url: str) -> list[Any]:
    """The ED25519 public keys published at ``url`` (the caller bounds the time)."""
    async with (
        httpx.AsyncClient(follow_redirects=False, verify=tls_context()) as client,
        client.stream("GET", url) as response,
    ):
        response.raise_for_status()
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError(f"the JWKS is larger than {MAX_JWKS_BYTES} bytes")
    keys = fal_keys_from_jwks(json.loads(body))
    if not keys:
        raise ValueError("the JWKS holds no ED25519 key")
    return keys


@dataclass
class _Entry:
    expires: float
    keys: list[Any] | None
    error: str = ""


class FalKeys:
    """A cache of signing keys by JWKS URL, with a negative cache for failures."""

    def __init__(
        self,
        *,
        ttl_s: float = 3600.0,
        retry_s: float = 60.0,
        timeout_s: float = 5.0,
        load: Loader = load_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s, self.retry_s, self.timeout_s = ttl_s, retry_s, timeout_s
        self._load = load
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = anyio.Lock()

    async def get(self, url: str) -> list[Any]:
        """The keys at ``url``; ``WebhookVerificationError`` while they cannot be had."""
        entry = self._fresh(url)
        if entry is None:
            async with self._lock:
                entry = self._fresh(url) or await self._refresh(url)
        if entry.keys is None:
            raise WebhookVerificationError(entry.error)
        return entry.keys

    def _fresh(self, url: str) -> _Entry | None:
        entry = self._entries.get(url)
        return entry if entry is not None and entry.expires > self._clock() else None

    async def _refresh(self, url: str) -> _Entry:
        try:
            with anyio.fail_after(self.timeout_s):
                keys = await self._load(url)
            entry = _Entry(self._clock() + self.ttl_s, keys)
        except _LOAD_ERRORS as exc:
            log.warning("cannot fetch fal's signing keys from %s: %r", url, exc)
            reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            entry = _Entry(
                self._clock() + self.retry_s,
                None,
                f"fal's signing keys cannot be fetched ({reason}); next try in {self.retry_s:g} s",
            )
        self._entries[url] = entry
        return entry
