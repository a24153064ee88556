"""The image client for an ``ImageCaps.api`` (see ``adapters.images`` for the contract)."""

from __future__ import annotations

from typing import Any

import httpx

from adapters import _images_fal, _images_gemini, _images_local, _images_openai
from adapters.errors import RejectedInputError
from adapters.images import ImageClient


def build_image_client(
    api: str,
    provider: str,
    *,
    api_key: str = "",
    base_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 120.0,
) -> ImageClient:
    """The client of ``api`` (``ImageCaps.api``) for ``provider``; ``base_url`` points it at an
    emulator. A hosted API without a key is refused here, before any request."""
    if api == "local":
        return _images_local.LocalImageClient()
    if not api_key:
        raise RejectedInputError("no API key configured", provider)
    kwargs: dict[str, Any] = {"base_url": base_url, "transport": transport, "timeout": timeout}
    if api == "openai_images":
        return _images_openai.OpenAIImageClient(api_key, **kwargs)
    if api == "fal_queue":
        return _images_fal.FalImageClient(api_key, **kwargs)
    if api == "gemini_image":
        return _images_gemini.GeminiImageClient(api_key, **kwargs)
    raise RejectedInputError(f"no image client speaks {api!r}", provider)
