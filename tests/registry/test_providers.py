"""The registry's ``providers:`` section: each provider's API origins, validated and merged."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry import RegistryFileError, load_registry


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "user.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryFileError) as info:
        load_registry(path)
    return [str(p) for p in info.value.problems]


def test_every_provider_of_a_model_has_api_origins():
    catalog = load_registry()
    for provider in catalog.providers - {"local"}:
        assert catalog.api_origins(provider), provider
        assert all(o.startswith("https://") for o in catalog.api_origins(provider))
    assert catalog.to_dict()["providers"]["runway"]["api_origins"] == [
        "https://api.dev.runwayml.com"
    ]


def test_every_provider_names_its_strongest_submission_mechanism_with_a_source():
    catalog = load_registry()
    mechanisms = {p: catalog.submission(p).mechanism for p in catalog.providers}
    assert mechanisms == {
        "kling": "client_reference",
        "fal": "reconcile",
        "replicate": "reconcile",
        "google": "none",
        "runway": "none",
        "luma": "reconcile",
        "openai": "none",
        "local": "resubmit",
        "gemini": "resubmit",
        "elevenlabs": "resubmit",
    }
    assert all(catalog.submission(p).source for p in catalog.providers)
    assert catalog.submission("no-such-provider").mechanism == "none"


def test_a_submission_mechanism_outside_the_four_is_refused(tmp_path):
    text = (
        "providers:\n  runway:\n    api_origins: []\n"
        "    submission: {mechanism: idempotency_key, source: hope}\n"
    )
    assert any("submission" in problem for problem in _problems(tmp_path, text))


@pytest.mark.parametrize(
    "origin",
    [
        "http://api.replicate.com",
        "https://api.replicate.com/",
        "https://api.replicate.com/v1",
        "https://API.replicate.com",
        "api.replicate.com",
    ],
)
def test_an_origin_is_https_scheme_host_and_port_only(tmp_path: Path, origin: str):
    problems = _problems(tmp_path, f"providers:\n  replicate: {{api_origins: [{origin!r}]}}\n")
    assert any("providers.replicate.api_origins" in p and "is not https://" in p for p in problems)


def test_a_user_file_replaces_a_providers_origins(tmp_path: Path):
    path = tmp_path / "user.yaml"
    path.write_text(
        'providers:\n  openai: {api_origins: ["https://gateway.example:8443"]}\n', encoding="utf-8"
    )
    merged = load_registry(path)
    assert merged.api_origins("openai") == ("https://gateway.example:8443",)
    assert merged.api_origins("runway") == ("https://api.dev.runwayml.com",)


def test_a_model_of_a_provider_without_an_entry_is_refused(tmp_path: Path):
    problems = _problems(
        tmp_path,
        """
models:
  - id: newco/v1
    provider: newco
    provider_model: v1
    tier: high
    speed: fast
    durations: {grid: [5]}
    sizes: ["1280x720"]
    max_prompt_chars: 1000
    limits: {concurrency: 1}
    price: {unit: per_second, source: "newco pricing page", effective: 2026-11-01,
            rates: [{rate: 0.1}]}
""",
    )
    assert problems == [
        "providers.newco: missing: list its api_origins (where its key may be sent)"
    ]
