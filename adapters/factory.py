"""Provider id -> adapter, with credentials from settings and an optional base URL (emulator)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from pydantic import SecretStr

from adapters._hosted import HostedAdapter
from adapters.base import ProviderAdapter
from adapters.fal import FalAdapter
from adapters.google import EMULATOR_PROJECT, VeoAdapter
from adapters.kling import KlingAdapter
from adapters.luma import LumaAdapter
from adapters.openai_videos import OpenAIVideosAdapter
from adapters.replicate import ReplicateAdapter
from adapters.runway import RunwayAdapter
from foundation.errors import InvalidInputError
from foundation.settings import Settings

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
    """The secret for ``provider`` (``SHOTLINE_RUNWAY_API_KEY``, ``SHOTLINE_FAL_KEY``, …); Google's
    is the Vertex AI access token (``SHOTLINE_VERTEX_ACCESS_TOKEN``), as Veo is on Vertex only."""
    by_provider = {
        "google": settings.vertex_access_token,
        "runway": settings.runway_api_key,
        "kling": settings.kling_api_key,
        "luma": settings.luma_api_key,
        "fal": settings.fal_key,
        "replicate": settings.replicate_api_token,
        "openai": settings.openai_api_key,
    }
    return by_provider.get(provider)


def has_credentials(provider: str, settings: Settings) -> bool:
    secret = credential(provider, settings)
    return provider == "local" or bool(secret and secret.get_secret_value())


def is_loopback(base_url: str | None) -> bool:
    return bool(base_url) and urlparse(base_url).hostname in LOOPBACK


def build_adapter(
    provider: str,
    *,
    settings: Settings,
    base_url: str | None = None,
    asset_dir: Path | None = None,
    timeout: float = 30.0,
) -> ProviderAdapter:
    """Build the adapter for ``provider``.

    A loopback ``base_url`` (the emulator) gets a placeholder key when none is configured, so an
    emulated run needs no credentials; real hosts always need the configured secret.
    """
    if provider == "local":
        from adapters.local import LocalAnimaticAdapter

        return LocalAnimaticAdapter(asset_dir or settings.work_dir)
    cls = HOSTED.get(provider)
    if cls is None:
        raise InvalidInputError(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")
    key = credential(provider, settings)
    if key is None and is_loopback(base_url):
        key = SecretStr(EMULATOR_KEY)
    if cls is VeoAdapter:
        project = settings.vertex_project
        if project is None and is_loopback(base_url):
            project = EMULATOR_PROJECT
        return VeoAdapter(
            api_key=key,
            base_url=base_url,
            asset_dir=asset_dir,
            timeout=timeout,
            project=project,
            location=settings.vertex_location,
        )
    return cls(api_key=key, base_url=base_url, asset_dir=asset_dir, timeout=timeout)
