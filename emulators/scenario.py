"""Emulator scenarios: seeded YAML that says, per model or provider, how the fake service behaves.

```yaml
seed: 7
defaults: {latency: {dist: fixed, seconds: 0.0}}
providers:
  runway: {concurrency: 1}
models:
  veo-3.1-fast-generate-preview:
    latency: {dist: lognormal, seconds: 2.0, sigma: 0.3}
    faults:
      - {kind: rate_limit, calls: [1, 2], retry_after_s: 1.5}  # first two create calls: 429
      - {kind: safety_refusal, calls: [3]}  # the job of create call 3 is refused
    defects:
      - {kind: black_middle, calls: [4], seconds: 1.0}
```

``calls`` numbers count *create calls* to that model (1-based, rejected ones included); without
``calls``, ``rate`` is a seeded probability; ``match`` limits a fault to prompts containing that
text (alone, it hits every such prompt: stable even when shots are submitted in parallel);
``times`` caps how often it fires. ``lost_job`` answers the create and then forgets the job, as a
provider does with one it expired, deleted or lost (an in-process emulator that stopped): its
status, result and cancel get the provider's answer for an id it does not know. ``draft_invalid_rounds: N`` makes a chat model's first N
storyboard drafts of a conversation invalid (``shotline draft``'s repair loop). (The key is not ``on``: YAML 1.1 reads ``on`` as ``true``.) A profile in ``models`` overrides one in ``providers``, which overrides
``defaults``, field by field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from foundation.errors import InvalidInputError, Problem

FaultKind = Literal[
    "rate_limit",
    "server_error",
    "bad_request",
    "hang",
    "malformed_json",
    "truncated_json",
    "safety_refusal",
    "job_failure",
    "result_error",
    "expired_url",
    "lost_job",
]
HTTP_FAULTS = (
    "rate_limit",
    "server_error",
    "bad_request",
    "hang",
    "malformed_json",
    "truncated_json",
)
DefectKind = Literal[
    "black_head",
    "black_tail",
    "black_middle",
    "frozen",
    "wrong_size",
    "short_duration",
    "missing_audio",
    "corrupt",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selector(_Model):
    """Which calls a fault or defect hits: ``calls`` (create-call numbers), else ``rate`` (seeded
    probability), else every call whose prompt contains ``match``; ``times`` caps how often."""

    calls: list[int] | None = None
    rate: float = Field(0.0, ge=0.0, le=1.0)
    match: str | None = None
    times: int | None = Field(None, ge=1)


class Fault(Selector):
    """One injected failure. HTTP faults hit the create call (``stage: submit``) or the job's first
    status poll (``stage: poll``); the others decide how the job itself ends."""

    kind: FaultKind
    stage: Literal["submit", "poll"] = "submit"
    retry_after_s: float | None = 1.0
    status: int = 503
    seconds: float = 30.0
    message: str | None = None


class Defect(Selector):
    """A defect written into the produced media (post-processing with FFmpeg)."""

    kind: DefectKind
    seconds: float = 1.0
    scale: float = 0.5
    fraction: float = 0.5


class Latency(_Model):
    dist: Literal["fixed", "uniform", "lognormal"] = "fixed"
    seconds: float = Field(0.0, ge=0.0)
    low: float = 0.0
    high: float = 0.0
    sigma: float = 0.25
    queued_fraction: float = Field(0.2, ge=0.0, le=1.0)


class RateLimit(_Model):
    requests: int = Field(ge=1)
    per_s: float = Field(gt=0)
    retry_after_s: float | None = None


class JudgeProfile(_Model):
    scores: dict[str, float] = Field(default_factory=dict)
    issues: list[dict[str, object]] = Field(default_factory=list)


class Profile(_Model):
    latency: Latency = Latency()
    concurrency: int | None = Field(None, ge=1)
    rate_limit: RateLimit | None = None
    faults: list[Fault] = Field(default_factory=list)
    defects: list[Defect] = Field(default_factory=list)
    url_ttl_s: float = 3600.0
    judge: JudgeProfile = JudgeProfile()
    # chat/completions storyboard drafts: the first N answers of a conversation are invalid
    draft_invalid_rounds: int = Field(0, ge=0, le=10)


class Media(_Model):
    fps: float = 24.0
    max_side: int | None = Field(None, ge=16)


class Scenario(_Model):
    seed: int = 0
    defaults: Profile = Profile()
    providers: dict[str, Profile] = Field(default_factory=dict)
    models: dict[str, Profile] = Field(default_factory=dict)
    media: Media = Media()
    # Account state the free endpoints (``shotline doctor``) and every authenticated route see:
    # credentials refused as invalid (401 in the provider's shape), and provider model ids the
    # providers' catalogs (model list / model get / organization tier) no longer list.
    invalid_keys: list[str] = Field(default_factory=list)
    unlisted_models: list[str] = Field(default_factory=list)
    webhook_secret: str = "whsec_ZW11bGF0b3Itd2ViaG9vay1zZWNyZXQtMDAwMDA="

    def profile(self, provider: str, model: str) -> Profile:
        """The merged profile for one model: model fields over provider fields over defaults."""
        merged = self.defaults.model_dump()
        for layer in (self.providers.get(provider), self.models.get(model)):
            if layer is not None:
                merged.update(layer.model_dump(include=layer.model_fields_set))
        return Profile.model_validate(merged)


CLEAN = Scenario()


def load_scenario(path: Path | None) -> Scenario:
    """Parse a scenario file; ``None`` gives the clean default (no faults, zero latency)."""
    if path is None:
        return CLEAN
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"cannot read scenario {path}: {exc}") from exc
    from pydantic import ValidationError

    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(".".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors()
        ]
        raise InvalidInputError(f"invalid scenario {path}", problems) from exc
