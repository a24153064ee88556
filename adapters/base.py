"""The one contract every provider adapter implements, and the canonical records it returns.

The pipeline never sees vendor JSON: adapters turn it into these frozen records, and classify every
failure into ``adapters.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from adapters.errors import ProviderError
from foundation.spoken import spoken_prompt


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a provider needs to render one shot, already adapted to the chosen model.

    ``provider_model`` is the vendor's model name (``veo-3.1-fast-generate-preview``); ``model`` is
    the registry id (``google/veo-3.1-fast``).
    """

    shot_id: str
    prompt: str
    duration_s: float
    width: int
    height: int
    fps: float
    model: str
    provider_model: str = ""
    audio: bool = False
    dialogue: str | None = None
    seed: int | None = None
    reference_image: Path | None = None
    negative_prompt: str | None = None
    shot_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    speaker: str | None = None
    # the featured characters' reference images, for models that take them (``inputs``)
    reference_images: tuple[Path, ...] = ()
    # the clip an extension sends to its model's extend operation (registry ``extend``): the
    # provider returns it followed by ``duration_s`` more seconds (``pipeline.continuity``)
    extend_video: Path | None = None
    # the provider's job id of that clip's generation, for an extend operation that takes the
    # provider's own generation by id (registry ``extend.input: generation``, Luma ray-3.2)
    extend_job: str | None = None

    @property
    def spoken_prompt(self) -> str:
        """The prompt a model that voices dialogue is sent (``foundation.spoken``): the line goes
        in it, in double quotes after a verb of speech. No provider of ours takes the line in a
        field of its own; the prompt itself when there is no line."""
        return spoken_prompt(self.prompt, self.dialogue, self.speaker)

    @property
    def aspect_ratio(self) -> str:
        from math import gcd

        divisor = gcd(self.width, self.height)
        return f"{self.width // divisor}:{self.height // divisor}"


@dataclass(frozen=True)
class PollResult:
    """A provider job's state. ``error`` is set when ``state`` is ``failed``."""

    state: JobState
    progress: float | None = None
    error: ProviderError | None = None
    raw: Any = None


@dataclass(frozen=True)
class Asset:
    """A downloaded, checked clip in the asset store, as measured from the file itself."""

    path: Path
    sha256: str
    duration_s: float
    width: int
    height: int
    fps: float
    has_audio: bool
    provider_job_id: str
    provider_cost_usd: float | None = None
    raw: Any = None


@runtime_checkable
class ProviderAdapter(Protocol):
    """Submit, poll, cancel, fetch: every provider looks like this.

    Contract:
    - ``submit`` returns the provider job id as soon as the provider accepted the job; the caller
      persists it before it polls, so a restarted process can resume a paid job.
    - ``poll``, ``cancel`` and ``fetch`` work from that id alone.
    - Every failure raises (or, in ``poll``, returns in ``PollResult.error``) an
      ``adapters.errors.ProviderError`` subclass; adapters never retry.
    """

    provider: str

    def submit(self, request: GenerationRequest) -> str: ...

    def poll(self, job_id: str) -> PollResult: ...

    def cancel(self, job_id: str) -> bool: ...

    def fetch(self, job_id: str, dest_dir: Path) -> Asset: ...


@runtime_checkable
class SpeaksDialogue(Protocol):
    """An adapter that sends ``GenerationRequest.dialogue`` to its model, so the clip it returns
    should speak the line (the gate's speech check then requires speech). An adapter that does not
    implement it is not asked for speech: a line the model never received cannot be checked."""

    speaks_dialogue: bool


@runtime_checkable
class FindsLostSubmissions(Protocol):
    """An adapter whose provider can say whether a create whose answer was lost reached it.

    Contract: ``find_submission`` returns the ids of the provider jobs created for ``request`` at
    or after ``since`` (epoch seconds; the adapter allows for clock skew): found by the client
    reference the adapter sent (Kling's ``external_task_id``), or by listing recent jobs and matching
    the input it sent (fal, Replicate). An empty list means the create never arrived, so submitting
    again pays once; several mean the caller cannot tell which is its own. It spends nothing.
    """

    def find_submission(self, request: GenerationRequest, since: float) -> list[str]: ...
