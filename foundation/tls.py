"""One verifying TLS context per process, for every HTTP client our own code builds.

httpx builds a fresh ``ssl.SSLContext`` for every ``Client`` (and every module-level ``httpx.get``)
unless ``verify=`` is given one, and loading the CA bundle costs ~20 ms of CPU each time. The
context here is built by httpx's own ``httpx.create_ssl_context`` (0.29.0, ``_config.py``):
certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when ``trust_env`` (httpx's default) and
set; so a client given it verifies exactly as one left to its default would (with the same
``trust_env``). One context is kept per (``trust_env``, ``SSL_CERT_FILE``, ``SSL_CERT_DIR``) seen,
so changing those variables takes effect on the next call.

The context is shared: callers must not change it (load certificates, change verification).
httpcore sets its ALPN protocols on every connection (``["http/1.1"]`` without http2), so clients
sharing it must all be HTTP/1.1 only (none of ours enables ``http2``).
"""

from __future__ import annotations

import os
import ssl
from functools import cache


def tls_context(*, trust_env: bool = True) -> ssl.SSLContext:
    """The process's verifying context, as ``httpx.Client(verify=True, trust_env=trust_env)``
    would build it; pass it as ``verify=``."""
    if not trust_env:
        return _built(False, "", "")
    return _built(True, os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))


@cache
def _built(trust_env: bool, cert_file: str, cert_dir: str) -> ssl.SSLContext:
    # the arguments are the cache key; httpx reads the same variables from os.environ itself
    import httpx

    return httpx.create_ssl_context(verify=True, trust_env=trust_env)
