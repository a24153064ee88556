"""``shotline doctor``'s providers section and the beat's provider check, against the emulator:
keys refused, models a provider stopped listing, breakers opened, and never a create call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from adapters import doctor
from adapters._hosted import HostedAdapter
from adapters._http import MAX_ANSWER_BYTES
from adapters.factory import HOSTED, build_adapter
from adapters.runway import RunwayAdapter
from emulators import EmulatorHandle, start_emulator
from emulators.scenario import Scenario
from foundation.settings import Settings, get_settings
from pipeline import tasks
from pipeline.celery_app import beat_schedule
from pipeline.context import RunContext
from registry import load_registry
from router import BreakerState, HealthBook
from shotline.cli import app


@pytest.fixture
def emulator(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An emulator with the scenario the test names (``@pytest.mark.parametrize`` indirect), which
    ``shotline doctor --providers emulated`` reaches through SHOTLINE_EMULATOR_URL."""
    scenario = getattr(request, "param", Scenario())
    with start_emulator(scenario) as handle:
        monkeypatch.setenv("SHOTLINE_EMULATOR_URL", handle.base_url)
        get_settings.cache_clear()
        yield handle


def run_doctor(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["doctor", "--json", *args])
    return result.exit_code, json.loads(result.output)


def assert_nothing_created(handle: EmulatorHandle, report: dict[str, Any]) -> None:
    stats = handle.stats()
    assert stats["submissions"] == {}
    assert stats["accepted"] == {}
    calls = [c for p in report["providers"]["providers"].values() for c in p.get("calls", [])]
    assert calls
    assert all(call.startswith("GET ") for call in calls)


def test_every_emulated_provider_answers_with_a_valid_key_and_no_drift(emulator):
    code, report = run_doctor("--providers", "emulated")
    assert code == 0, report
    found = report["providers"]["providers"]
    assert set(found) == {*HOSTED, "gemini", "elevenlabs"}  # the last two were not checked
    for name, provider in found.items():
        assert provider["configured"], name
        assert provider["key_valid"] is True, (name, provider)
        assert provider["drift"] == {}, name
        assert provider["ok"], name
    assert found["runway"]["tier"]["models"]["veo3.1_fast"]["maxConcurrentGenerations"] == 2
    assert found["luma"]["unchecked"] == ["ray-2", "ray-3.2", "ray-flash-2"]
    assert found["elevenlabs"]["unchecked"] == ["music_v1", "music_v2"]  # v1/models: speech only
    assert found["gemini"]["calls"] == ["GET /google/v1beta/models"]
    assert_nothing_created(emulator, report)


@pytest.mark.parametrize("emulator", [Scenario(invalid_keys=["rw-wrong"])], indirect=True)
def test_a_refused_key_is_reported_invalid_and_fails(emulator, monkeypatch):
    monkeypatch.setenv("SHOTLINE_RUNWAY_API_KEY", "rw-wrong")
    get_settings.cache_clear()
    code, report = run_doctor("--providers", "emulated")
    assert code == 1
    runway = report["providers"]["providers"]["runway"]
    assert runway["key_valid"] is False
    assert "401" in runway["error"]
    assert not runway["ok"]
    assert report["providers"]["providers"]["fal"]["key_valid"] is True
    assert_nothing_created(emulator, report)


@pytest.mark.parametrize(
    ("emulator", "variable", "provider", "status"),
    [
        (Scenario(invalid_keys=["g-wrong"]), "SHOTLINE_GEMINI_API_KEY", "gemini", "400"),
        (Scenario(invalid_keys=["el-wrong"]), "SHOTLINE_ELEVENLABS_API_KEY", "elevenlabs", "401"),
    ],
    indirect=["emulator"],
)
def test_a_refused_gemini_or_elevenlabs_key_fails(
    emulator, monkeypatch, variable, provider, status
):
    """Gemini answers a bad key 400 API_KEY_INVALID, ElevenLabs 401 ``invalid_api_key``."""
    monkeypatch.setenv(variable, "g-wrong" if provider == "gemini" else "el-wrong")
    get_settings.cache_clear()
    code, report = run_doctor("--providers", "emulated")
    assert code == 1
    found = report["providers"]["providers"][provider]
    assert found["key_valid"] is False
    assert status in found["error"]
    assert_nothing_created(emulator, report)


DROPPED = [
    ("gemini", "gemini/gemini-3.5-flash-lite", "gemini-3.5-flash-lite"),
    ("elevenlabs", "elevenlabs/flash-v2.5", "eleven_flash_v2_5"),
    ("runway", "runway/veo3.1_fast", "veo3.1_fast"),
    ("fal", "fal/veo3.1-fast", "fal-ai/veo3.1/fast"),
    ("google", "google/veo-3.1-fast", "veo-3.1-fast-generate-001"),
    ("replicate", "replicate/veo-3.1-fast", "google/veo-3.1-fast"),
]


@pytest.mark.parametrize(
    ("emulator", "provider", "model_id", "vendor"),
    [(Scenario(unlisted_models=[v]), p, m, v) for p, m, v in DROPPED],
    indirect=["emulator"],
)
def test_a_model_the_provider_stopped_listing_is_named_as_drift(
    emulator, provider, model_id, vendor
):
    code, report = run_doctor("--providers", "emulated")
    assert code == 1
    found = report["providers"]["providers"]
    assert found[provider]["drift"] == {model_id: vendor}
    assert found[provider]["key_valid"] is True
    assert [p for p, r in found.items() if r["drift"]] == [provider]
    assert_nothing_created(emulator, report)


def test_openai_models_are_checked_against_its_model_list():
    """The registry routes no OpenAI model any more (Sora 2 shut down), so the check is direct."""
    with start_emulator(Scenario(unlisted_models=["sora-2-pro"])) as handle:
        adapter = build_adapter("openai", settings=Settings(), base_url=handle.base_urls["openai"])
        assert isinstance(adapter, HostedAdapter)
        result = doctor.check(adapter, ["sora-2", "sora-2-pro"])
    assert result.key_valid is True
    assert result.missing == ("sora-2-pro",)
    assert result.calls == ("GET /openai/v1/models",)


def test_an_unreachable_provider_is_an_error_not_a_refused_key():
    adapter = RunwayAdapter(api_key="k", base_url="http://127.0.0.1:9", timeout=2.0)
    result = doctor.check(adapter, ["gen4.5"])
    assert result.key_valid is None
    assert result.error
    assert result.missing == ()


def test_an_answer_over_the_cap_is_an_error_and_is_not_read():
    """The doctor's GETs go through the adapters' capped read (``HttpClient.answer``)."""
    read: list[bytes] = []

    def body() -> Iterator[bytes]:
        read.append(b"{}")
        yield b"{}"

    declared = {"content-length": str(MAX_ANSWER_BYTES + 1)}
    huge = httpx.MockTransport(lambda _: httpx.Response(200, headers=declared, content=body()))
    adapter = RunwayAdapter(api_key="k", base_url="https://runway.test", transport=huge)
    result = doctor.check(adapter, ["gen4.5"])
    assert result.key_valid is None
    assert result.error is not None
    assert f"{MAX_ANSWER_BYTES + 1} bytes, over {MAX_ANSWER_BYTES}" in result.error
    assert read == []


def test_without_keys_no_provider_is_called():
    code, report = run_doctor()
    assert code == 0, report
    section = report["providers"]
    assert section["ok"]
    assert "no provider key" in section["note"]
    assert not any(p["configured"] for p in section["providers"].values())
    code, report = run_doctor("--providers", "local")
    assert code == 0
    assert "providers" not in report["providers"]


@pytest.mark.parametrize(
    "emulator", [Scenario(unlisted_models=["veo3.1_fast", "fal-ai/veo3.1"])], indirect=True
)
def test_the_beat_task_opens_the_breaker_of_a_model_that_disappeared(emulator, monkeypatch):
    settings = get_settings()
    registry = load_registry()
    health = HealthBook(registry)
    ctx = RunContext(settings, registry, "emulated", health=health, base_urls=emulator.base_urls)
    monkeypatch.setattr(tasks, "worker_context", lambda: ctx)
    found = tasks.check_providers.run()
    assert found["runway"]["drift"] == {"runway/veo3.1_fast": "veo3.1_fast"}
    assert health.state("runway/veo3.1_fast") is BreakerState.OPEN
    assert health.state("fal/veo3.1") is BreakerState.OPEN
    for fine in ("runway/veo3.1", "runway/gen4.5", "fal/veo3.1-fast", "google/veo-3.1"):
        assert health.state(fine) is BreakerState.CLOSED, fine
    assert health.allow("runway/veo3.1_fast") is False
    assert emulator.stats()["submissions"] == {}


def test_the_beat_schedules_the_check_only_with_a_key_and_an_interval(monkeypatch):
    assert "pipeline.check_providers" not in beat_schedule(Settings())
    keyed = Settings(fal_key="id:secret", provider_check_interval_s=600)
    entry = beat_schedule(keyed)["pipeline.check_providers"]
    assert entry["schedule"] == 600
    assert entry["task"] == tasks.check_providers.name
    off = Settings(fal_key="id:secret", provider_check_interval_s=0)
    assert "pipeline.check_providers" not in beat_schedule(off)


_READ = ["tier", "models", "usage", "creditBalance", "maxMonthlyCreditSpend", "data", "id",
         "launchStage", "username", "type", "credit_balance", "credit_balance_usd_cents",
         "endpoint_id", "metadata", "prices", "status", "gen4.5", "veo3.1"]  # fmt: skip
_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_READ), inner, max_size=4)
    ),
    max_leaves=10,
)


@pytest.mark.parametrize("provider", sorted(HOSTED))
@settings(max_examples=40, derandomize=True, deadline=None, database=None)
@given(answer=st.dictionaries(st.sampled_from(_READ), _ANY_JSON, max_size=5))
def test_an_answer_of_any_shape_is_reported_not_raised(provider: str, answer: Any) -> None:
    """``check`` never raises for what a provider answers: a value of another type than
    documented is the check's error (before, a list where Runway's tier lists a model's limits
    raised ``TypeError`` out of ``shotline doctor``)."""
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=answer))
    extra: dict[str, Any] = {"project": "p"} if provider == "google" else {}
    adapter = HOSTED[provider](
        api_key="k", base_url="https://api.provider.test", transport=transport, **extra
    )
    result = doctor.check(adapter, ["gen4.5", "veo3.1"])
    assert result.provider == provider
    assert result.key_valid is True or result.error, result
