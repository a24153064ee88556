"""Provider truth: ask every configured provider, for free, whether its key works and whether it
still serves the models the registry routes to it; open the breaker of a model that disappeared.

``shotline doctor`` prints the reports; under Celery the beat runs ``check_and_trip`` every
``SHOTLINE_PROVIDER_CHECK_INTERVAL_S`` seconds (off at 0, or when no provider key is set).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from adapters import doctor
from adapters._hosted import HostedAdapter
from adapters._http import HttpClient
from adapters._images_gemini import BASE_URL as GEMINI_BASE_URL
from adapters.errors import ProviderError
from adapters.factory import HOSTED, build_adapter, has_credentials
from foundation.errors import ShotlineError
from foundation.settings import Settings
from pipeline.context import RunContext
from registry import ModelKind, Registry
from router import HealthBook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProviderReport:
    """One provider's answer, in registry terms: ``drift`` maps each routed registry model id the
    provider no longer lists to its vendor id."""

    provider: str
    configured: bool
    check: doctor.ProviderCheck | None = None
    drift: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """False on drift or a refused key (what makes ``shotline doctor`` exit 1)."""
        return not self.drift and not (self.check is not None and self.check.key_valid is False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "configured": self.configured}
        if self.check is not None:
            found = asdict(self.check)
            found.pop("provider")
            out |= found | {"drift": dict(self.drift)}
        if self.error:
            out["error"] = self.error
        return out


CLIENT_KEYS = {"gemini": "gemini_api_key", "elevenlabs": "elevenlabs_api_key"}
"""The providers of language, image, voice and music models only (``doctor.CLIENT_CHECKS``), and
the setting holding each one's key."""
CLIENT_BASE_URLS = {"gemini": GEMINI_BASE_URL, "elevenlabs": "https://api.elevenlabs.io"}


def routed_models(registry: Registry, provider: str, today: date | None = None) -> dict[str, str]:
    """Registry id -> vendor id of every model the router may send to ``provider``: its video
    models, or every kind for a provider of ``CLIENT_KEYS``."""
    kinds = list(ModelKind) if provider in CLIENT_KEYS else [ModelKind.VIDEO]
    return {
        m.id: m.provider_model
        for kind in kinds
        for m in registry.of_kind(kind, today)
        if m.provider == provider
    }


def check_providers(
    registry: Registry,
    settings: Settings,
    *,
    base_urls: Mapping[str, str] | None = None,
    providers: Iterable[str] | None = None,
) -> list[ProviderReport]:
    """Check ``providers`` (default: every hosted one). Without a ``base_urls`` entry a provider is
    checked only when its key is set (a provider without one is reported unconfigured); with one
    (an emulator) it is checked with the emulator's placeholder key when none is set."""
    urls = dict(base_urls or {})
    reports = []
    for provider in sorted(providers if providers is not None else {*HOSTED, *CLIENT_KEYS}):
        if provider not in urls and not _keyed(provider, settings):
            reports.append(ProviderReport(provider, configured=False))
            continue
        check = _check_client if provider in CLIENT_KEYS else _check_one
        reports.append(check(registry, settings, provider, urls.get(provider)))
    return reports


def _keyed(provider: str, settings: Settings) -> bool:
    if provider not in CLIENT_KEYS:
        return has_credentials(provider, settings)
    return bool(_client_key(provider, settings))


def _client_key(provider: str, settings: Settings) -> str:
    secret = getattr(settings, CLIENT_KEYS[provider])
    return secret.get_secret_value() if secret is not None else ""


def _check_client(
    registry: Registry, settings: Settings, provider: str, base_url: str | None
) -> ProviderReport:
    """A provider of ``CLIENT_KEYS``, on a client of its own (an emulator's placeholder key when
    none is set)."""
    header = "x-goog-api-key" if provider == "gemini" else "xi-api-key"
    key = _client_key(provider, settings) or "emulated"
    http = HttpClient(
        provider,
        base_url or CLIENT_BASE_URLS[provider],
        {header: key},
        api_origins=registry.api_origins(provider),
    )
    return _reported(provider, routed_models(registry, provider), http)


def _reported(provider: str, models: Mapping[str, str], http: HttpClient) -> ProviderReport:
    try:
        result = doctor.check_client(provider, http, models.values())
    finally:
        http.client.close()
    return _report(provider, models, result)


def _report(
    provider: str, models: Mapping[str, str], result: doctor.ProviderCheck
) -> ProviderReport:
    """``result`` in registry terms: each routed model the provider no longer lists is drift."""
    gone = set(result.missing)
    drift = {model_id: vendor for model_id, vendor in models.items() if vendor in gone}
    return ProviderReport(provider, configured=True, check=result, drift=drift)


def _check_one(
    registry: Registry, settings: Settings, provider: str, base_url: str | None
) -> ProviderReport:
    try:
        adapter = build_adapter(
            provider,
            settings=settings,
            base_url=base_url,
            api_origins=registry.api_origins(provider),
        )
    except (ProviderError, ShotlineError) as exc:  # e.g. Vertex without a project
        return ProviderReport(provider, configured=True, error=str(exc))
    assert isinstance(adapter, HostedAdapter)
    models = routed_models(registry, provider)
    try:
        result = doctor.check(adapter, models.values())
    finally:
        adapter.close()
    return _report(provider, models, result)


def trip_disappeared(
    health: HealthBook, reports: Iterable[ProviderReport], cooldown_s: float
) -> list[str]:
    """Open the breaker of every model a provider no longer lists, for ``cooldown_s``; returns
    the model ids. The router then ranks them out and the pipeline does not submit to them."""
    opened = []
    for report in reports:
        for model_id in sorted(report.drift):
            health.force_open(model_id, cooldown_s)
            opened.append(model_id)
    return opened


def check_enabled(settings: Settings) -> bool:
    """The beat check runs when it has an interval and at least one provider key is set."""
    return settings.provider_check_interval_s > 0 and any(
        _keyed(provider, settings) for provider in (*HOSTED, *CLIENT_KEYS)
    )


def check_and_trip(ctx: RunContext) -> list[ProviderReport]:
    """The beat task's body: check the providers this context uses (its emulator's when it has
    one), open the breakers of disappeared models, log what was found."""
    base_urls = ctx.base_urls if ctx.emulated else None
    reports = check_providers(ctx.registry, ctx.settings, base_urls=base_urls)
    # stays open until the next check confirms the drift again (or the model comes back)
    cooldown = max(2 * ctx.settings.provider_check_interval_s, ctx.settings.breaker_cooldown_s)
    for model_id in trip_disappeared(ctx.health, reports, cooldown):
        log.warning("provider no longer lists %s: its breaker is open", model_id)
    for report in reports:
        if report.check is not None and report.check.key_valid is False:
            log.warning("the %s key was refused: %s", report.provider, report.check.error)
    return reports
