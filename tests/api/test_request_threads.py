"""Sync routes share a bounded thread pool (``SHOTLINE_API_REQUEST_THREADS``), set when the app
starts, on the event loop that serves it."""

from __future__ import annotations

import anyio.to_thread
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiSettings


def _threads_in(client: TestClient) -> float:
    assert client.portal is not None
    return client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)


def test_the_request_thread_limit_is_the_setting(ctx, monkeypatch):
    assert ApiSettings().request_threads == 8
    monkeypatch.setenv("SHOTLINE_API_REQUEST_THREADS", "3")
    with TestClient(create_app(ctx, settings=ApiSettings())) as client:
        assert _threads_in(client) == 3
        assert client.get("/healthz").status_code == 200
