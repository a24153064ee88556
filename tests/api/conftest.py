"""Fixtures of the API tests: an app over the local renderer, keys of two tenants, tiny
storyboards (160x90, 1 s shots), a mock outbound network, and a live uvicorn server."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import auth
from api.app import create_app
from api.config import ApiSettings
from api.deps import ApiState
from api.urls import Outbound, UrlPolicy
from pipeline.context import RunContext
from tests.api.browser import BROWSERS, find_browser

PUBLIC_IP = "93.184.215.14"
METRICS_TOKEN = "operator-metrics-token"
Handler = Callable[[httpx.Request], httpx.Response]


PROMPTS = (
    "a red kite over a beach",
    "a dog running in snow",
    "a city street at night",
    "a bowl of green apples",
    "a sailboat at sunset",
    "a forest path in fog",
)


def tiny_board(shots: int = 2, tag: str = "", **extra: Any) -> dict[str, Any]:
    """``tag`` varies the prompts: identical clips rendered at the same moment would share the
    local renderer's output file."""
    return {
        "title": "tiny",
        "output": {"size": "160x90"},
        "scenes": [
            {
                "id": "s1",
                "shots": [
                    {"id": f"shot{i + 1}", "prompt": PROMPTS[i % len(PROMPTS)] + tag, "duration": 1}
                    for i in range(shots)
                ],
            }
        ],
        **extra,
    }


def fake_resolve(host: str, port: int) -> list[str]:
    """Test DNS: ``*.internal`` is private, ``*.unknown`` fails, everything else is public."""
    if host.endswith(".internal"):
        return ["10.0.0.7"]
    if host.endswith(".unknown"):
        raise OSError("no such host")
    return [PUBLIC_IP]


class Network:
    """The outbound network of a test: a handler per host, every request recorded."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.routes.get(request.url.host)
        if handler is None:
            return httpx.Response(404)
        return handler(request)


@pytest.fixture
def api_settings() -> ApiSettings:
    return ApiSettings(
        rate_per_minute=6000,
        rate_burst=1000,
        http_hosts=["hooks.test"],
        webhook_backoff_s=0.05,
        webhook_attempts=4,
        sse_poll_s=0.2,
        metrics_token=METRICS_TOKEN,
    )


@pytest.fixture
def operator_headers() -> dict[str, str]:
    """The operator's bearer token for ``/metrics``."""
    return {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture
def ctx() -> RunContext:
    return RunContext.create("local")


@pytest.fixture
def network() -> Network:
    return Network()


@pytest.fixture
def app(ctx: RunContext, api_settings: ApiSettings, network: Network) -> FastAPI:
    application = create_app(ctx, settings=api_settings)
    state: ApiState = application.state.api
    state.outbound = Outbound(
        UrlPolicy(frozenset(api_settings.http_hosts), frozenset(), fake_resolve),
        httpx.MockTransport(network),
    )
    state.webhooks.outbound = state.outbound
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def key(ctx: RunContext) -> str:
    return auth.create_key(ctx.db_url, "acme")


@pytest.fixture
def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def other_headers(ctx: RunContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.create_key(ctx.db_url, 'globex')}"}


def wait_for_job(
    client: Any, job_id: str, headers: dict[str, str], timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = client.get(f"/v1/jobs/{job_id}", headers=headers)
        if answer.status_code == 429:  # polled past the key's burst (a job slow on a loaded
            time.sleep(float(answer.headers["retry-after"]))  # machine): wait as a client does
            continue
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()
        if job["status"] in ("delivered", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def live_url(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a loopback port, for real HTTP clients."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="session")
def chromium() -> str:
    found = find_browser()
    if found:
        return found
    message = f"no headless Chromium on PATH (looked for {', '.join(BROWSERS)})"
    if os.environ.get("SHOTLINE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}, and SHOTLINE_REQUIRE_SERVICES=1 requires it (.ci/run installs it)")
    pytest.skip(message)
