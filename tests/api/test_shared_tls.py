"""The API's outgoing clients (reference downloads, webhooks, fal's JWKS) verify with the process's
one TLS context (``foundation.tls``) instead of loading the CA bundle per request."""

from __future__ import annotations

import anyio
import httpx
import pytest

from api.jwks import load_jwks
from api.urls import Outbound, UrlPolicy
from tests.web import counting_tls_builds


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    return counting_tls_builds(monkeypatch)


def test_outbound_clients_share_one_context(builds):
    outbound = Outbound(UrlPolicy())

    async def twice() -> None:
        for _ in range(2):
            async with outbound._client():
                pass

    anyio.run(twice)
    assert len(builds) == 1, builds


def test_jwks_fetches_share_one_context(builds):
    for _ in range(2):
        with pytest.raises(httpx.ConnectError):  # nothing listens on port 1
            anyio.run(load_jwks, "http://127.0.0.1:1/jwks.json")
    assert len(builds) == 1, builds
