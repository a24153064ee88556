"""``build_adapter``: vendor hosts by default, credentials from settings, emulator without keys."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from adapters.base import ProviderAdapter
from adapters.errors import RejectedInputError
from adapters.factory import HOSTED, build_adapter, has_credentials
from foundation.errors import InvalidInputError
from foundation.settings import Settings

HOSTS = {
    "google": "https://us-central1-aiplatform.googleapis.com",  # Veo is on Vertex AI only
    "runway": "https://api.dev.runwayml.com",
    "kling": "https://api-singapore.klingai.com",
    "luma": "https://api.lumalabs.ai",
    "fal": "https://queue.fal.run",
    "replicate": "https://api.replicate.com",
    "openai": "https://api.openai.com",
}
KEYS = {
    "vertex_access_token": "g",
    "vertex_project": "p",
    "runway_api_key": "r",
    "kling_api_key": "k",
    "luma_api_key": "l",
    "fal_key": "f",
    "replicate_api_token": "t",
    "openai_api_key": "o",
}


@pytest.mark.parametrize("provider", sorted(HOSTED))
def test_live_adapters_use_the_vendor_host_and_the_configured_key(provider: str):
    secrets = {k: v if k == "vertex_project" else SecretStr(v) for k, v in KEYS.items()}
    settings = Settings.model_validate(secrets)
    adapter = build_adapter(provider, settings=settings)
    assert isinstance(adapter, ProviderAdapter)
    assert adapter.provider == provider
    assert repr(adapter) == f"{type(adapter).__name__}(base_url={HOSTS[provider]!r})"
    assert has_credentials(provider, settings)


@pytest.mark.parametrize("provider", sorted(HOSTED))
def test_live_adapters_need_a_key_but_the_emulator_does_not(provider: str):
    settings = Settings(_env_file=None)
    assert not has_credentials(provider, settings)
    with pytest.raises(RejectedInputError, match="no API key"):
        build_adapter(provider, settings=settings)
    assert build_adapter(provider, settings=settings, base_url="http://127.0.0.1:9/x")


def test_unknown_provider():
    with pytest.raises(InvalidInputError, match="unknown provider"):
        build_adapter("pika", settings=Settings(_env_file=None))


def test_vendor_field_mapping():
    from adapters.base import GenerationRequest
    from adapters.fal import FalAdapter
    from adapters.google import VeoAdapter
    from adapters.kling import KlingAdapter
    from adapters.runway import RunwayAdapter

    def req(model: str, provider_model: str, **kw: Any) -> GenerationRequest:
        base: dict[str, Any] = {"width": 1280, "height": 720, "duration_s": 8.0, **kw}
        return GenerationRequest(
            "s", "p", model=model, provider_model=provider_model, fps=24, **base
        )

    url = "http://127.0.0.1:9"
    veo_adapter = VeoAdapter(api_key="k", base_url=url, project="p")
    veo = veo_adapter.build_body(req("google/x", "veo-3.1"))
    assert veo["parameters"] == {
        "sampleCount": 1,
        "durationSeconds": 8,
        "aspectRatio": "16:9",
        "resolution": "720p",
        "generateAudio": True,
    }
    portrait = req("google/x", "veo-3.1", width=1080, height=1920)
    assert veo_adapter.build_body(portrait)["parameters"]["resolution"] == "1080p"
    runway = RunwayAdapter(api_key="k", base_url=url).build_body(req("runway/x", "gen4.5", seed=3))
    assert (runway["ratio"], runway["duration"], runway["seed"]) == ("1280:720", 8, 3)
    fal = FalAdapter(api_key="k", base_url=url)
    assert fal.build_body(req("fal/x", "fal-ai/veo3/fast"))["duration"] == "8s"
    assert (
        fal.build_body(req("fal/x", "fal-ai/kling-video/v3/pro/text-to-video"))["duration"] == "8"
    )
    kling = KlingAdapter(api_key="k", base_url=url).build_body(
        req("kling/v3-pro", "kling-3.0", audio=True, width=1920, height=1080)
    )
    assert kling["settings"] == {
        "duration": 8,
        "resolution": "1080p",
        "audio": "native",
        "multi_shot": False,
        "aspect_ratio": "16:9",
    }
