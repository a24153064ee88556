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


def routed_models(registry: Registry, provider: str, today: date | None = None) -> dict[str, str]:
    """Registry id -> vendor id of every model the router may send to ``provider``."""
    return {
        m.id: m.provider_model
        for m in registry.of_kind(ModelKind.VIDEO, today)
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
    for provider in sorted(providers if providers is not None else HOSTED):
        if provider not in urls and not has_credentials(provider, settings):
            reports.append(ProviderReport(provider, configured=False))
            continue
        reports.append(_check_one(registry, settings, provider, urls.get(provider)))
    return reports


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
    gone = set(result.missing)
    drift = {model_id: vendor for model_id, vendor in models.items() if vendor in gone}
    return ProviderReport(provider, configured=True, check=result, drift=drift)


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
        has_credentials(provider, settings) for provider in HOSTED
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
