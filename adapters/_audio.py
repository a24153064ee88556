"""One synchronous audio endpoint of a provider (speech, music): a JSON POST answered with the
audio's bytes, failures classified at the edge (``adapters._http.classify_status``). Shared by
``adapters.speech`` and ``adapters.music``; never retries: the stage's fallback chain does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from adapters._http import cap_answers, classify_status
from adapters.errors import ProviderTimeoutError, TransientError


class AudioEndpoint:
    """A provider's base URL and key, and one HTTP client (made on first use, or given)."""

    BASE_URLS: ClassVar[Mapping[str, str]] = {}
    WHAT: ClassVar[str] = "audio"  # names the call in transport errors

    def __init__(
        self,
        provider: str,
        api_key: str = "",
        base_url: str | None = None,
        client: httpx.Client | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        self.provider = provider
        self.api_key = api_key
        self.base_url = (base_url or self.BASE_URLS.get(provider, "")).rstrip("/")
        self._client = client
        self.timeout_s = timeout_s

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.timeout_s, event_hooks={"response": [cap_answers()]}
            )
        return self._client

    def close(self) -> None:
        """Close the HTTP client (one this client made or was given)."""
        if self._client is not None:
            self._client.close()

    def _post(
        self,
        url: str,
        body: Mapping[str, Any],
        headers: Mapping[str, str],
        params: Mapping[str, str],
    ) -> bytes:
        try:
            response = self.client.post(
                url, json=dict(body), headers=dict(headers), params=dict(params)
            )
        except httpx.TimeoutException as exc:
            raise ProviderTimeoutError(f"{self.WHAT} timed out: {exc}", self.provider) from exc
        except httpx.RequestError as exc:
            raise TransientError(f"{self.WHAT} unreachable: {exc}", self.provider) from exc
        if response.status_code >= 400:
            raise classify_status(self.provider, response)
        return response.content
