"""Provider truth without spending: each provider's free account and catalog endpoints.

``check(adapter, models)`` asks the provider, with the adapter's own credential and client (so the
credential still goes only to the provider's API origins), whether the key is valid, which of
``models`` (vendor model ids) it no longer lists or knows, and what tier, limits or credit balance
it exposes. Only GETs of free endpoints, each cited below; never a create, so nothing is billed.

Where a provider has no model list (Luma, Kling) its models are reported ``unchecked``: the check
proves the key, not the catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters._hosted import HostedAdapter
from adapters._http import HttpClient, body_of, error_message
from adapters.errors import SHAPE_ERRORS, ProviderError

FAL_PLATFORM = "https://api.fal.ai"  # docs.fal.ai/platform-apis (servers: https://api.fal.ai/v1)
KLING_PROBE_ID = "shotline-doctor-probe"


@dataclass(frozen=True)
class ProviderCheck:
    """What one provider said. ``key_valid`` is ``None`` when no answer proved it either way
    (an error, or an endpoint that does not need the key); ``missing`` are vendor model ids the
    provider no longer lists; ``unchecked`` those it offers no way to look up."""

    provider: str
    key_valid: bool | None
    missing: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()
    tier: Mapping[str, Any] = field(default_factory=dict)
    calls: tuple[str, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = ()


class KeyRefused(Exception):
    """The provider answered 401 (or 403 where that means the credential)."""


class _Probe:
    """The GETs of one check, on the provider's client, with the calls made recorded."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http
        self.calls: list[str] = []

    def get(self, url: str, refuse: Collection[int] = (401, 403), **kwargs: Any) -> httpx.Response:
        self.calls.append(f"GET {httpx.URL(self.http.url(url)).path}")
        response = self.http.answer("GET", url, **kwargs)
        if response.status_code in refuse:
            raise KeyRefused(f"HTTP {response.status_code}: {error_message(body_of(response))}")
        return response

    def json(self, url: str, **kwargs: Any) -> Any:
        response = self.get(url, **kwargs)
        if response.status_code >= 400:
            raise _Failed(f"HTTP {response.status_code}: {error_message(body_of(response))}")
        return response.json()


class _Failed(Exception):
    """An answer that says nothing about the key or the models (5xx, 429, unexpected 4xx)."""


def _runway(probe: _Probe, models: list[str]) -> ProviderCheck:
    """SDK runwayml 5.24.0 ``resources/organization/organization.py``: ``GET /v1/organization`` ->
    ``creditBalance``, ``tier.maxMonthlyCreditSpend`` and ``tier.models`` ("each key represents a
    model", with its concurrency and daily limits). A routed model absent from ``tier.models`` is
    drift (UNCERTAIN: that every usable model has a tier entry is inferred from the SDK's type)."""
    org = probe.json("/v1/organization")
    tier = org.get("tier") or {}
    limits = tier.get("models") or {}
    usage = (org.get("usage") or {}).get("models") or {}
    return ProviderCheck(
        "runway",
        True,
        missing=tuple(m for m in models if limits and m not in limits),
        tier={
            "credit_balance": org.get("creditBalance"),
            "max_monthly_credit_spend": tier.get("maxMonthlyCreditSpend"),
            "models": {m: {**limits.get(m, {}), **usage.get(m, {})} for m in models},
        },
    )


def _openai(probe: _Probe, models: list[str]) -> ProviderCheck:
    """SDK openai 3.60.0 ``resources/models.py``: ``GET /v1/models`` (``{data: [{id}]}``). The
    ``x-ratelimit-*`` headers are reported when the answer carries them."""
    response = probe.get("/v1/models")
    if response.status_code >= 400:
        raise _Failed(f"HTTP {response.status_code}: {error_message(body_of(response))}")
    listed = {str(m.get("id")) for m in response.json().get("data") or [] if isinstance(m, dict)}
    rate = {k: v for k, v in response.headers.items() if k.startswith("x-ratelimit-")}
    return ProviderCheck(
        "openai", True, missing=tuple(m for m in models if m not in listed), tier=rate
    )


def _replicate(probe: _Probe, models: list[str]) -> ProviderCheck:
    """SDK replicate 1.0.7 ``account.py`` ``GET /v1/account`` (the key), ``model.py`` ``GET
    /v1/models/{owner}/{name}`` per model (404: gone). A bare version id cannot be looked up this
    way and is left unchecked."""
    account = probe.json("/v1/account")
    missing, unchecked = [], []
    for model in models:
        name = model.split(":", 1)[0]
        if "/" not in name:
            unchecked.append(model)
            continue
        response = probe.get(f"/v1/models/{name}")
        if response.status_code == 404:
            missing.append(model)
        elif response.status_code >= 400:
            raise _Failed(f"HTTP {response.status_code} for {name}")
    tier = {"account": account.get("username"), "type": account.get("type")}
    return ProviderCheck("replicate", True, tuple(missing), tuple(unchecked), tier)


def _luma(probe: _Probe, models: list[str], agents_base: str) -> ProviderCheck:
    """SDK lumaai 1.21.0 ``resources/credits.py`` ``GET /dream-machine/v1/credits`` (credit balance
    in USD cents); for Agents-API models also luma-agents-python ``resources/files.py`` ``GET
    /v1/files?limit=1`` on the Agents host. Neither API lists models: all are unchecked."""
    credits = probe.json("/dream-machine/v1/credits")
    if any(m.startswith("ray-3") for m in models):
        probe.json(f"{agents_base}/v1/files", params={"limit": 1})
    return ProviderCheck(
        "luma",
        True,
        unchecked=tuple(models),
        tier={"credit_balance_usd_cents": credits.get("credit_balance")},
    )


def _fal(probe: _Probe, models: list[str], platform: str) -> ProviderCheck:
    """docs.fal.ai/platform-apis (2026-12-04): ``GET /v1/models/pricing?endpoint_id=`` needs a valid
    key (so it proves the key) and gives the account's unit prices; ``GET /v1/models?endpoint_id=``
    lists the apps fal still serves, with ``metadata.status`` active or deprecated. The pricing
    page names an "Admin API key": a 403 there is reported as unproven, not invalid (UNCERTAIN)."""
    ids = [("endpoint_id", m) for m in models]
    notes: list[str] = []
    key_valid: bool | None = True
    tier: dict[str, Any] = {}
    try:
        prices = probe.json(f"{platform}/v1/models/pricing", params=ids, refuse=(401,))
        tier["prices"] = {
            p["endpoint_id"]: f"{p.get('unit_price')} {p.get('currency', 'USD')}/{p.get('unit')}"
            for p in prices.get("prices") or []
            if isinstance(p, dict) and "endpoint_id" in p
        }
    except _Failed as exc:
        key_valid = None
        notes.append(f"pricing not readable with this key ({exc}); the key is unproven")
    found = probe.json(f"{platform}/v1/models", params=ids).get("models") or []
    status = {str(m.get("endpoint_id")): (m.get("metadata") or {}).get("status") for m in found}
    notes += [f"{m} is {status[m]}" for m in models if status.get(m) not in (None, "active")]
    missing = tuple(m for m in models if m not in status)
    return ProviderCheck("fal", key_valid, missing, tier=tier, notes=tuple(notes))


def _kling(probe: _Probe, models: list[str], legacy: bool) -> ProviderCheck:
    """The new standard's ``GET /tasks?task_ids=`` (kling.ai/document-api "Query Task", snapshot
    2026-09-20: unknown ids are simply absent, ``data: []``); an AK:SK key uses the legacy list
    ``GET /v1/videos/text2video?pageNum=1&pageSize=1`` (providers.md section 7, [3P]). Kling has
    no model list: models are unchecked. Kling answers auth failures as 401 with code 1000-1004."""
    if legacy:
        probe.json("/v1/videos/text2video", params={"pageNum": 1, "pageSize": 1})
    else:
        probe.json("/tasks", params={"task_ids": KLING_PROBE_ID})
    return ProviderCheck("kling", True, unchecked=tuple(models))


def _google(probe: _Probe, models: list[str]) -> ProviderCheck:
    """SDK google-genai 3.6.1 ``models.get`` in Vertex mode: ``GET v1beta1/publishers/google/models/
    {model}`` (``_api_client.py`` adds no project to base-model GETs; ``v1beta1`` is its Vertex
    default). 404 NOT_FOUND: the model is gone; 401/403: the token cannot use Vertex AI."""
    missing, stages = [], {}
    for model in models:
        response = probe.get(f"/v1beta1/publishers/google/models/{model}")
        if response.status_code == 404:
            missing.append(model)
            continue
        if response.status_code >= 400:
            raise _Failed(f"HTTP {response.status_code}: {error_message(body_of(response))}")
        stages[model] = response.json().get("launchStage")
    return ProviderCheck("google", True, tuple(missing), tier={"launch_stage": stages})


def _checker(adapter: HostedAdapter) -> Callable[[_Probe, list[str]], ProviderCheck]:
    provider = adapter.provider
    if provider == "luma":
        agents = str(getattr(adapter, "agents_base", adapter.base_url))
        return lambda probe, models: _luma(probe, models, agents)
    if provider == "fal":
        platform = (
            adapter.base_url if adapter.base_url != adapter.default_base_url else FAL_PLATFORM
        )
        adapter.allow_api_origins(platform)
        return lambda probe, models: _fal(probe, models, platform)
    if provider == "kling":
        legacy = bool(getattr(adapter, "legacy", False))
        return lambda probe, models: _kling(probe, models, legacy)
    plain = {"runway": _runway, "openai": _openai, "replicate": _replicate, "google": _google}
    return plain[provider]


def _gemini(probe: _Probe, models: list[str]) -> ProviderCheck:
    """google-genai 3.6.1 ``models.list`` on the Gemini API: ``GET v1beta/models`` (``pageSize``
    up to 1000, ``pageToken``) -> ``{models: [{name: "models/ID"}], nextPageToken}``; 400
    API_KEY_INVALID or 403: the key is refused."""
    names: set[str] = set()
    token = None
    for _ in range(10):  # pages
        params = {"pageSize": 1000, **({"pageToken": token} if token else {})}
        page = probe.json("/models", params=params, refuse=(400, 401, 403))
        names |= {str(m.get("name", "")).removeprefix("models/") for m in page.get("models") or []}
        token = page.get("nextPageToken")
        if not token:
            break
    return ProviderCheck("gemini", True, tuple(m for m in models if m not in names))


def _elevenlabs(probe: _Probe, models: list[str]) -> ProviderCheck:
    """elevenlabs-python ``models.list`` -> ``GET v1/models`` (its speech models; the music
    models are not documented there: unchecked); 401 ``invalid_api_key``."""
    listed = {str(m.get("model_id")) for m in probe.json("/v1/models")}
    music = tuple(m for m in models if m.startswith("music_"))
    speech = [m for m in models if m not in music]
    return ProviderCheck("elevenlabs", True, tuple(m for m in speech if m not in listed), music)


CLIENT_CHECKS = {"gemini": _gemini, "elevenlabs": _elevenlabs}
"""Providers whose models are language, image, voice or music models only: their clients are not
video adapters, so they are checked on an ``HttpClient`` of their own (``check_client``)."""


def check(adapter: HostedAdapter, models: Collection[str]) -> ProviderCheck:
    """Check ``adapter``'s provider for ``models`` (vendor ids); never raises for what the provider
    answers: a refused key, an error or an unreachable host are in the result."""
    return _checked(adapter.provider, _Probe(adapter._http), _checker(adapter), models)


def check_client(provider: str, http: HttpClient, models: Collection[str]) -> ProviderCheck:
    """``check`` for a provider of ``CLIENT_CHECKS``, on ``http`` (its base URL and key)."""
    return _checked(provider, _Probe(http), CLIENT_CHECKS[provider], models)


def _checked(
    provider: str,
    probe: _Probe,
    checker: Callable[[_Probe, list[str]], ProviderCheck],
    models: Collection[str],
) -> ProviderCheck:
    wanted = sorted(set(models))
    try:
        result = checker(probe, wanted)
    except KeyRefused as exc:
        return ProviderCheck(provider, False, calls=tuple(probe.calls), error=str(exc))
    except (_Failed, ProviderError, *SHAPE_ERRORS) as exc:  # an answer of another shape
        return ProviderCheck(provider, None, calls=tuple(probe.calls), error=str(exc))
    return ProviderCheck(
        result.provider,
        result.key_valid,
        result.missing,
        result.unchecked,
        result.tier,
        tuple(probe.calls),
        result.error,
        result.notes,
    )
