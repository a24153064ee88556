"""Provider id -> adapter, with credentials from settings and an optional base URL (emulator)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from urllib.parse import urlparse

from pydantic import SecretStr

from adapters._hosted import HostedAdapter
from adapters._http import origin_of
from adapters.base import ProviderAdapter
from adapters.fal import FalAdapter
from adapters.google import EMULATOR_PROJECT, VeoAdapter
from adapters.kling import KlingAdapter
from adapters.luma import LumaAdapter
from adapters.openai_videos import OpenAIVideosAdapter
from adapters.replicate import ReplicateAdapter
from adapters.runway import RunwayAdapter
from foundation.errors import InvalidInputError
from foundation.settings import Settings, provider_credential

HOSTED: dict[str, type[HostedAdapter]] = {
    "google": VeoAdapter,
    "runway": RunwayAdapter,
    "kling": KlingAdapter,
    "luma": LumaAdapter,
    "fal": FalAdapter,
    "replicate": ReplicateAdapter,
    "openai": OpenAIVideosAdapter,
}
PROVIDERS = (*HOSTED, "local")
EMULATOR_KEY = "emulator-key"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def credential(provider: str, settings: Settings) -> SecretStr | None:
    """The secret for ``provider`` (``foundation.settings.PROVIDER_CREDENTIALS``)."""
    return provider_credential(settings, provider)


def has_credentials(provider: str, settings: Settings) -> bool:
    secret = credential(provider, settings)
    return provider == "local" or bool(secret and secret.get_secret_value())


def is_loopback(base_url: str | None) -> bool:
    return bool(base_url) and urlparse(base_url).hostname in LOOPBACK


def is_emulator(base_url: str | None, settings: Settings) -> bool:
    """A loopback base URL, or one on the origin of ``SHOTLINE_EMULATOR_URL``."""
    if not base_url:
        return False
    if is_loopback(base_url):
        return True
    emulator = settings.emulator_url
    return emulator is not None and origin_of(base_url) == origin_of(emulator)


def build_adapter(
    provider: str,
    *,
    settings: Settings,
    base_url: str | None = None,
    asset_dir: Path | None = None,
    timeout: float = 30.0,
    api_origins: Collection[str] | None = None,
) -> ProviderAdapter:
    """Build the adapter for ``provider``.

    An emulator ``base_url`` (loopback, or on ``SHOTLINE_EMULATOR_URL``'s origin) gets a placeholder
    key when none is configured, so an emulated run needs no credentials; real hosts always need
    the configured secret. ``api_origins`` (the registry's allowlist) are the only other origins
    the credential may go to; a non-emulator ``base_url`` outside them is refused before any call.
    Without ``api_origins`` the credential goes to the base URL's origin only.
    """
    if provider == "local":
        from adapters.local import LocalAnimaticAdapter

        return LocalAnimaticAdapter(asset_dir or settings.work_dir)
    cls = HOSTED.get(provider)
    if cls is None:
        raise InvalidInputError(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")
    emulated = is_emulator(base_url, settings)
    if api_origins is not None and not emulated:
        _check_origin(provider, base_url or cls.default_base_url, api_origins)
    key = credential(provider, settings)
    if key is None and emulated:
        key = SecretStr(EMULATOR_KEY)
    adapter: ProviderAdapter
    if cls is VeoAdapter:
        project = settings.vertex_project
        if project is None and emulated:
            project = EMULATOR_PROJECT
        adapter = VeoAdapter(
            api_key=key,
            base_url=base_url,
            asset_dir=asset_dir,
            timeout=timeout,
            project=project,
            location=settings.vertex_location,
        )
    else:
        adapter = cls(api_key=key, base_url=base_url, asset_dir=asset_dir, timeout=timeout)
    if api_origins and not emulated:
        adapter.allow_api_origins(*api_origins)
    return adapter


def _check_origin(provider: str, base_url: str, api_origins: Collection[str]) -> None:
    origin = origin_of(base_url)
    if origin not in {origin_of(allowed) for allowed in api_origins}:
        listed = ", ".join(api_origins) or "none"
        raise InvalidInputError(
            f"refusing to send the {provider} credential to {origin}: not one of its API origins "
            f"({listed}); list it under providers.{provider}.api_origins in a registry file "
            "(SHOTLINE_REGISTRY)"
        )
