"""One synchronous audio endpoint of a provider (speech, music): a JSON POST answered with the
audio's bytes, failures classified at the edge (``adapters._http.classify_status``). Shared by
``adapters.speech`` and ``adapters.music``; never retries: the stage's fallback chain does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from adapters._http import cap_answers, classify_status, synchronous_generation
from adapters.errors import ProviderFailureError, ProviderTimeoutError, TransientError
from foundation.tls import tls_context


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
                timeout=self.timeout_s,
                event_hooks={"response": [cap_answers()]},
                verify=tls_context(),
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
        request = self.client.build_request(
            "POST", url, json=dict(body), headers=dict(headers), params=dict(params)
        )
        with synchronous_generation():
            try:
                response = self.client.send(request, stream=True)
            except httpx.RequestError as exc:
                raise self._transport_error(exc) from exc
        try:
            if response.status_code < 400:
                return self._generated(response)
            try:
                response.read()
            except httpx.RequestError as exc:
                raise self._transport_error(exc) from exc
            raise classify_status(self.provider, response)
        finally:
            response.close()

    def _transport_error(self, exc: httpx.RequestError) -> TransientError:
        if isinstance(exc, httpx.TimeoutException):
            return ProviderTimeoutError(f"{self.WHAT} timed out: {exc}", self.provider)
        return TransientError(f"{self.WHAT} unreachable: {exc}", self.provider)

    def _generated(self, response: httpx.Response) -> bytes:
        """A 200 answer's audio: the provider generated (and billed) it, so a body that cannot be
        read (cut off, past the answer cap) fails as generated (``ProviderError.generated``)."""
        try:
            return response.read()
        except httpx.RequestError as exc:
            error = ProviderFailureError(f"{self.WHAT} answer unreadable: {exc}", self.provider)
            raise error.generated() from exc
