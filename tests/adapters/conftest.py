"""One emulator for the whole contract module, with a fault profile per synthetic model name.

Every case (one per adapter surface) names its models ``<kind>`` through ``Case.model``, so one
server serves all scenarios at once and the stats of one test never mix with another's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters._hosted import HostedAdapter
from adapters.base import GenerationRequest, JobState, PollResult
from adapters.factory import build_adapter
from emulators import EmulatorHandle, Scenario, start_emulator
from foundation.settings import Settings

TERMINAL = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED)


@dataclass(frozen=True)
class Case:
    provider: str
    family: str
    retry_hint: float | None
    can_cancel: bool = True

    @property
    def id(self) -> str:
        return f"{self.provider}:{self.family}"

    def model(self, kind: str) -> str:
        if self.provider == "fal":
            return f"fal-ai/{kind}"
        if self.provider == "replicate":
            return f"emu/{kind}"
        return f"{self.family}-{kind}"


CASES = (
    Case("google", "veo-3.1-fast", 1.5),
    Case("runway", "gen4.5", None),
    Case("kling", "kling-v3", None, can_cancel=False),
    Case("luma", "ray-2", 2.0),
    Case("luma", "ray-3.2", 2.0, can_cancel=False),
    Case("fal", "fal-ai", 2.0),
    Case("replicate", "emu", 2.0),
    Case("openai", "sora-2", 1.5, can_cancel=False),
)
KINDS: dict[str, dict[str, Any]] = {
    "ok": {},
    "ratelimit": {"faults": [{"kind": "rate_limit", "rate": 1.0, "retry_after_s": 1.5}]},
    "unavailable": {"faults": [{"kind": "server_error", "rate": 1.0, "status": 503}]},
    "badrequest": {"faults": [{"kind": "bad_request", "rate": 1.0}]},
    "hang": {"faults": [{"kind": "hang", "rate": 1.0, "seconds": 1.5}]},
    "malformed": {"faults": [{"kind": "malformed_json", "rate": 1.0}]},
    "truncatedpoll": {"faults": [{"kind": "truncated_json", "stage": "poll", "rate": 1.0}]},
    "safety": {"faults": [{"kind": "safety_refusal", "rate": 1.0}]},
    "failure": {"faults": [{"kind": "job_failure", "rate": 1.0}]},
    "resulterror": {"faults": [{"kind": "result_error", "rate": 1.0}]},
    "expired": {"faults": [{"kind": "expired_url", "rate": 1.0}]},
    "lost": {"faults": [{"kind": "lost_job", "rate": 1.0}]},
    "throttle": {"concurrency": 1, "latency": {"seconds": 0.3}},
    "slow": {"latency": {"seconds": 30.0}},
    "resume": {"latency": {"seconds": 0.3}},
}


def scenario() -> Scenario:
    models = {case.model(kind): profile for case in CASES for kind, profile in KINDS.items()}
    return Scenario.model_validate({"seed": 1, "models": models, "media": {"max_side": 160}})


@pytest.fixture(scope="package")
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator(scenario()) as handle:
        yield handle


def adapter_for(case: Case, emulator: EmulatorHandle, timeout: float = 10.0) -> HostedAdapter:
    built = build_adapter(
        case.provider,
        settings=Settings(_env_file=None),
        base_url=emulator.base_urls[case.provider],
        timeout=timeout,
    )
    assert isinstance(built, HostedAdapter)
    return built


# sizes the strict emulators accept (runwayml 5.24.0: gen4.5 text_to_video ratios 1280:720|720:1280)
_SIZES = {"runway": (1280, 720)}


def request_for(case: Case, kind: str, **overrides: Any) -> GenerationRequest:
    width, height = _SIZES.get(case.provider, (320, 180))
    fields: dict[str, Any] = {
        "shot_id": f"shot-{kind}",
        "prompt": f"a lighthouse at dusk ({kind})",
        "duration_s": 3.0 if case.provider == "kling" else 2.0,  # Kling: 3-15 s
        "width": width,
        "height": height,
        "fps": 24.0,
        "model": f"{case.provider}/{kind}",
        "provider_model": case.model(kind),
    }
    fields.update(_VALID_SHAPE.get(case.provider, {}))
    fields.update(overrides)
    return GenerationRequest(**fields)


# Providers whose strict emulator refuses 2 s at 320x180 get their smallest valid request instead
# (openai: ``seconds`` is one of 4/8/12 and ``size`` one of four, SDK openai 3.60.0).
_VALID_SHAPE: dict[str, dict[str, Any]] = {
    "openai": {"duration_s": 4.0, "width": 1280, "height": 720},
}


def wait(adapter: HostedAdapter, job_id: str, limit_s: float = 20.0) -> PollResult:
    deadline = time.monotonic() + limit_s
    while True:
        result = adapter.poll(job_id)
        if result.state in TERMINAL or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


@pytest.fixture(params=CASES, ids=lambda case: case.id)
def case(request: pytest.FixtureRequest) -> Case:
    value: Case = request.param
    return value


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "assets"
