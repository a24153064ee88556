"""Every HTTP client the adapters build verifies with the process's one TLS context
(``foundation.tls``) instead of loading the CA bundle again (~20 ms of CPU each)."""

from __future__ import annotations

import ssl
from collections.abc import Callable

import httpx
import pytest

import foundation.tls
from adapters._http import HttpClient
from adapters.chat import ChatClient
from adapters.judges import GeminiJudge, OpenAICompatibleJudge
from adapters.music import MusicClient
from adapters.speech import SpeechClient
from tests.web import counting_tls_builds

CLIENTS: dict[str, Callable[[], httpx.Client]] = {
    "HttpClient": lambda: HttpClient("runway", "https://api.dev.runwayml.com", {}).client,
    "ChatClient": lambda: ChatClient("openai", "k").client,
    "GeminiJudge": lambda: GeminiJudge("k").client,
    "OpenAICompatibleJudge": lambda: OpenAICompatibleJudge("k", "gpt-4.1-mini").client,
    "SpeechClient": lambda: SpeechClient("openai", "k").client,
    "MusicClient": lambda: MusicClient("elevenlabs", "k").client,
}


def _context(client: httpx.Client) -> ssl.SSLContext:
    """The context the client's connection pool wraps its sockets with (httpx 0.29 internals)."""
    context: ssl.SSLContext = client._transport._pool._ssl_context  # type: ignore[attr-defined]
    return context


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    return counting_tls_builds(monkeypatch)


@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_clients_of_one_kind_share_one_context(builds, name):
    clients = [CLIENTS[name]() for _ in range(3)]
    try:
        assert len(builds) == 1, builds
        assert {id(_context(client)) for client in clients} == {id(foundation.tls.tls_context())}
    finally:
        for client in clients:
            client.close()


def test_all_adapter_clients_share_one_context(builds):
    clients = [make() for make in CLIENTS.values() for _ in range(2)]
    try:
        assert len(builds) == 1, builds
    finally:
        for client in clients:
            client.close()
