"""``httpx.get`` / ``httpx.post`` / ``httpx.delete`` for tests, without building a TLS context per call.

Each module-level ``httpx`` call builds a throwaway ``Client``, and with it a fresh ``SSLContext``
loading the CA bundle (~20 ms of CPU); the suite makes thousands against local servers. These make
the same throwaway client (same defaults: 5 s timeout unless ``timeout=``, no redirects, no
connection kept between calls) with the process's shared context (``foundation.tls``), so a call
behaves as before and costs ~0.1 ms of setup. A client a test builds itself takes
``verify=TLS`` for the same saving.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest

import foundation.tls
from foundation.tls import tls_context

TLS = tls_context()


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, verify=TLS, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, verify=TLS, **kwargs)


def delete(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.delete(url, verify=TLS, **kwargs)


def counting_tls_builds(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """From here on (``foundation.tls`` emptied first, no ``SSL_CERT_*``), the arguments of every
    ``ssl.create_default_context`` call: one per verifying context built."""
    foundation.tls._built.cache_clear()
    built: list[object] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(args or kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return built
