"""Settings of the HTTP API (``SHOTLINE_API_*``): limits, rate limits, and the outbound URL policy.

Kept apart from ``foundation.settings`` so the API's knobs live with the API; the values are read once
per app (``create_app``).
"""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from foundation.limits import MAX_DOCUMENT_BYTES
from foundation.settings import SettingsError, env_problems


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SHOTLINE_API_", env_file=".env", extra="ignore", frozen=True
    )

    max_body_bytes: int = MAX_DOCUMENT_BYTES
    max_upload_bytes: int = 10 * 1024 * 1024
    rate_per_minute: float = 120.0
    rate_burst: int = 60
    auth_failures_per_minute: float = 30.0
    """Failed authentications allowed per client address (refill rate); past the burst, 429."""
    auth_failure_burst: int = 20
    forwarded_allow_ips: str | None = None
    """The reverse proxies (addresses or networks, comma-separated; ``*`` for any) whose
    ``X-Forwarded-For`` ``shotline serve`` believes for the client's address (uvicorn's
    ``--forwarded-allow-ips``); unset: uvicorn's ``FORWARDED_ALLOW_IPS``, else loopback only."""
    rate_limit_url: str | None = None
    """Redis shared by every API process for rate limits (default: the broker when
    ``SHOTLINE_ENGINE=celery``, else each process limits alone)."""
    rate_limit_prefix: str = "shotline:rate:"
    http_hosts: list[str] = []
    """Hosts that outgoing requests (webhooks, reference images) may reach over plain http."""
    private_hosts: list[str] = []
    """Hosts allowed to resolve to private, loopback or link-local addresses."""
    fetch_timeout_s: float = 10.0
    """Each network step of an outgoing request (connect, one read, one write)."""
    fetch_deadline_s: float = 15.0
    """A whole outgoing request (webhook, reference image) with its redirects, however it trickles."""
    max_fetches: int = Field(64, ge=1)
    """Requests downloading reference images or music at once (per process); past it, 503 with
    Retry-After."""
    max_fetches_per_tenant: int = Field(16, ge=1)
    """Of ``max_fetches``, the most one tenant's requests hold at once; past it, 429 with
    Retry-After to that tenant only."""
    max_redirects: int = 3
    webhook_attempts: int = 6
    webhook_backoff_s: float = 2.0
    webhook_backoff_max_s: float = 300.0
    sse_poll_s: float = 1.0
    request_threads: int = Field(default=8, ge=1, le=256)
    """Threads that run sync routes at once (anyio's default is 40): each holds the GIL while it
    works, and fewer of them leave the event loop (``/healthz``, parsing, SSE) more of it."""
    metrics_token: SecretStr | None = None
    """The operator's bearer token for ``/metrics`` (every tenant's spend); unset, it is a 404."""


def load_api_settings() -> ApiSettings:
    """The API's settings from the environment; ``SettingsError`` naming each ``SHOTLINE_API_*``
    variable that holds a value its setting cannot take."""
    try:
        return ApiSettings()
    except ValidationError as exc:
        raise SettingsError(
            "the API settings are invalid", env_problems(exc, "SHOTLINE_API_")
        ) from None
