"""fal's signing keys never stall the server (issue 15): fetched off the event loop with a short
timeout, cached when fetched, and a failing endpoint remembered for a while (a negative cache)."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.webhooks import WebhookVerificationError, fal_headers
from api.jwks import FalKeys
from tests import web


class Hanging:
    """A loopback endpoint that accepts connections, counts them and never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.hits = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/.well-known/jwks.json"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.hits += 1
            self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self.sock.close()


def _delivery() -> tuple[bytes, dict[str, str]]:
    body = b'{"request_id": "req-1"}'
    return body, fal_headers(Ed25519PrivateKey.generate(), "req-1", "user-1", body)


def test_a_hanging_jwks_endpoint_neither_blocks_the_server_nor_is_asked_per_delivery(
    app, live_url, ctx
):
    jwks = Hanging()
    try:
        ctx.settings.fal_jwks_url = jwks.url
        app.state.api.fal_keys = FalKeys(timeout_s=1.5)
        body, headers = _delivery()
        hook = "/v1/providers/fal/webhook"
        with (
            httpx.Client(base_url=live_url, timeout=15, verify=web.TLS) as posts,
            httpx.Client(base_url=live_url, timeout=5, verify=web.TLS) as probe,
            ThreadPoolExecutor(6) as pool,
        ):
            futures = [
                pool.submit(posts.post, hook, content=body, headers=headers) for _ in range(6)
            ]
            probes: list[float] = []
            deadline = time.monotonic() + 10
            while not all(f.done() for f in futures) and time.monotonic() < deadline:
                sent = time.monotonic()
                assert probe.get("/healthz").status_code == 200
                probes.append(time.monotonic() - sent)
                time.sleep(0.1)
            answers = [f.result(timeout=10) for f in futures]
            later = []
            for _ in range(3):  # within the negative-cache window: refused at once
                sent = time.monotonic()
                later.append(posts.post(hook, content=body, headers=headers))
                assert time.monotonic() - sent < 0.5
        assert len(probes) >= 5
        assert max(probes) < 1.0, probes  # a blocked loop answers after the 1.5 s JWKS timeout
        for answer in answers + later:
            assert answer.status_code == 401
            assert "signing keys" in answer.json()["detail"]
        assert jwks.hits == 1
    finally:
        jwks.close()


def test_unsigned_noise_fetches_no_keys(app, client):
    calls: list[str] = []

    async def load(url: str) -> list[Any]:
        calls.append(url)
        return []

    app.state.api.fal_keys = FalKeys(load=load)
    answer = client.post("/v1/providers/fal/webhook", content=b"{}")
    assert answer.status_code == 401
    assert calls == []


class TestCache:
    def test_failures_are_remembered_briefly_and_keys_for_the_ttl(self):
        now = [0.0]
        results: list[Any] = [httpx.ConnectError("down"), ["k1"], ["k2"]]
        calls: list[str] = []

        async def load(url: str) -> list[Any]:
            calls.append(url)
            result = results.pop(0)
            if isinstance(result, Exception):
                raise result
            return list(result)

        keys = FalKeys(ttl_s=3600, retry_s=60, load=load, clock=lambda: now[0])

        def get() -> list[Any]:
            return anyio.run(keys.get, "https://fal.test/jwks")

        for _ in range(3):
            with pytest.raises(WebhookVerificationError, match="next try in 60 s"):
                get()
        assert len(calls) == 1
        now[0] = 61.0
        assert get() == ["k1"]
        now[0] = 61.0 + 3599
        assert get() == ["k1"]
        assert len(calls) == 2
        now[0] = 61.0 + 3601
        assert get() == ["k2"]
        assert len(calls) == 3

    def test_a_slow_endpoint_times_out(self):
        async def load(url: str) -> list[Any]:
            await anyio.sleep(5)
            return ["never"]

        keys = FalKeys(timeout_s=0.2, load=load)
        started = time.monotonic()
        with pytest.raises(WebhookVerificationError, match="timed out"):
            anyio.run(keys.get, "https://fal.test/jwks")
        assert time.monotonic() - started < 2
