"""Which providers a run may use, from ``--providers local|emulated|live|auto`` and the settings."""

from __future__ import annotations

from dataclasses import dataclass

from foundation.providers import PROVIDER_CHOICES
from foundation.settings import PROVIDER_CREDENTIALS, Settings
from router.errors import UnknownProvidersChoiceError

CREDENTIALS = PROVIDER_CREDENTIALS
HOSTED = frozenset(CREDENTIALS)
LOCAL = "local"
CHOICES = PROVIDER_CHOICES


@dataclass(frozen=True)
class Availability:
    """The enabled providers, and for each hosted provider left out, the reason."""

    enabled: frozenset[str]
    unavailable: dict[str, str]


def provider_availability(choice: str, settings: Settings) -> Availability:
    if choice not in CHOICES:
        raise UnknownProvidersChoiceError(
            f"--providers must be one of {', '.join(CHOICES)}, not {choice!r}"
        )
    if choice == "local":
        return Availability(
            frozenset({LOCAL}), {p: "provider disabled by --providers local" for p in HOSTED}
        )
    if choice == "emulated":
        return Availability(HOSTED | {LOCAL}, {})
    live = {p for p, key in CREDENTIALS.items() if getattr(settings, key, None) is not None}
    missing = {
        p: f"no credentials for {p} (set SHOTLINE_{CREDENTIALS[p].upper()})"
        for p in sorted(HOSTED - live)
    }
    enabled = frozenset(live | {LOCAL}) if choice == "auto" else frozenset(live)
    if choice == "live":
        missing[LOCAL] = "the local renderer is not used with --providers live"
    return Availability(enabled, missing)


def enabled_providers(choice: str, settings: Settings) -> set[str]:
    """local = {"local"}; emulated = every hosted provider + local; live = hosted providers whose
    key is set; auto = live + local."""
    return set(provider_availability(choice, settings).enabled)
