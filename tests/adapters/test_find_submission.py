"""Finding a create whose answer was lost (``FindsLostSubmissions``), against the emulators: the
job a create made is found by the client reference it carried (Kling) or by listing recent jobs
and matching the input sent (fal, Replicate, Luma Dream Machine); another request finds nothing;
two identical creates cannot be told apart; Luma's Agents API, which lists nothing, raises."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from adapters.base import FindsLostSubmissions, GenerationRequest
from adapters.errors import ProviderError
from adapters.factory import build_adapter
from emulators import EmulatorHandle, Scenario, start_emulator
from foundation.settings import Settings

# provider -> the vendor model of one registry model of it, and its duration
CASES = {
    "kling": ("kling-3.0", 5.0),
    "fal": ("fal-ai/veo3.1/fast", 4.0),
    "replicate": ("google/veo-3.1-fast", 4.0),
    "luma": ("ray-2", 5.0),
}
NEVER_RENDERED = {"faults": [{"kind": "job_failure", "rate": 1.0}]}


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    scenario = {"providers": dict.fromkeys(CASES, NEVER_RENDERED), "media": {"max_side": 32}}
    with start_emulator(Scenario.model_validate(scenario)) as handle:
        yield handle


def _finder(emulator: EmulatorHandle, provider: str) -> FindsLostSubmissions:
    adapter = build_adapter(
        provider, settings=Settings(_env_file=None), base_url=emulator.base_urls[provider]
    )
    assert isinstance(adapter, FindsLostSubmissions)
    return adapter


def _request(provider: str, prompt: str) -> GenerationRequest:
    model, seconds = CASES[provider]
    return GenerationRequest(
        shot_id="s1",
        prompt=prompt,
        duration_s=seconds,
        width=1280,
        height=720,
        fps=24.0,
        model=f"{provider}/x",
        provider_model=model,
        extra={"attempt_key": f"job-s1-{prompt.split()[-1]}"},
    )


@pytest.mark.parametrize("provider", sorted(CASES))
def test_the_lost_create_is_found_and_nothing_else(emulator: EmulatorHandle, provider: str):
    finder = _finder(emulator, provider)
    since = time.time()
    request = _request(provider, f"a lighthouse at dusk, take {provider}1")
    job_id = finder.submit(request)  # type: ignore[attr-defined]
    assert finder.find_submission(request, since) == [job_id]
    other = _request(provider, f"a lighthouse at dawn, take {provider}2")
    assert finder.find_submission(other, since) == []


@pytest.mark.parametrize("provider", ["fal", "replicate", "luma"])
def test_two_identical_creates_cannot_be_told_apart(emulator: EmulatorHandle, provider: str):
    finder = _finder(emulator, provider)
    since = time.time()
    request = _request(provider, f"a harbour crane at night, take {provider}3")
    first = finder.submit(request)  # type: ignore[attr-defined]
    second = finder.submit(request)  # type: ignore[attr-defined]
    assert sorted(finder.find_submission(request, since)) == sorted([first, second])


def test_the_luma_agents_api_lists_nothing_so_a_lost_create_cannot_be_found(
    emulator: EmulatorHandle,
):
    finder = _finder(emulator, "luma")
    request = replace(_request("luma", "a neon sign, take agents"), provider_model="ray-3.2")
    with pytest.raises(ProviderError, match="no generation list"):
        finder.find_submission(request, time.time())
