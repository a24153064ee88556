"""The process's TLS context: built once, and verifying exactly as httpx's default would."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi
import httpx
import pytest

from foundation.tls import tls_context


@pytest.fixture(autouse=True)
def _no_cert_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def _settings(ctx: ssl.SSLContext) -> tuple[object, ...]:
    return (ctx.verify_mode, ctx.check_hostname, ctx.options, ctx.minimum_version, ctx.protocol)


def test_one_context_is_built_and_it_is_httpx_default():
    ctx = tls_context()
    assert tls_context() is ctx
    assert (ctx.verify_mode, ctx.check_hostname) == (ssl.CERT_REQUIRED, True)
    default = httpx.create_ssl_context()
    assert _settings(ctx) == _settings(default)
    assert ctx.get_ca_certs() == default.get_ca_certs()
    assert len(ctx.get_ca_certs()) > 10  # certifi's bundle


def _one_ca(tmp_path: Path) -> Path:
    first = certifi.contents().split("-----END CERTIFICATE-----")[0]
    path = tmp_path / "one.pem"
    path.write_text(first + "-----END CERTIFICATE-----\n")
    return path


def test_ssl_cert_file_is_honoured_as_httpx_trust_env_does(monkeypatch, tmp_path):
    bundle = tls_context()
    monkeypatch.setenv("SSL_CERT_FILE", str(_one_ca(tmp_path)))
    ctx = tls_context()
    assert ctx is not bundle
    assert tls_context() is ctx
    assert len(ctx.get_ca_certs()) == 1
    assert ctx.get_ca_certs() == httpx.create_ssl_context().get_ca_certs()
    # without trust_env, as httpx.Client(trust_env=False): certifi's bundle whatever the variable
    assert tls_context(trust_env=False).get_ca_certs() == bundle.get_ca_certs()
