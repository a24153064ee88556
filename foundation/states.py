"""The states of a job, its shots and their attempts, the named groups of states the code asks
about, and the transition table: every allowed (from -> to) move of each entity and the event it
emits. ``pipeline.transitions`` is the only writer of a status and refuses any move not listed here.

The values are the strings stored in the database and shown by the API, so a ``StrEnum`` member
equals (and serialises as) the plain string. ``None`` as a source means the row is created in the
target state. The README's state diagrams are drawn from these tables (a test keeps them equal).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar


class JobStatus(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ShotStatus(StrEnum):
    PLANNED = "planned"
    RENDERING = "rendering"
    ACCEPTED = "accepted"
    NORMALISED = "normalised"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Stage(StrEnum):
    """The stage of its shot an attempt tries: the video (numbered 1, 2, ...) or one run before it
    (numbered below zero, -1, -2, ..., in the order they were opened, whatever their stage); or
    the job's own music stage, whose tries are kept on the job's first shot and numbered from
    ``-1_000_000`` down (``pipeline.stage_tries.JOB_FLOOR``)."""

    VIDEO = "video"
    TTS = "tts"
    KEYFRAME = "keyframe"
    MUSIC = "music"
    NATIVE = "native"  # the shot rendered again in a variant's aspect (``pipeline.native``)
    SHEET = "sheet"  # a character's reference sheet, a try of its owner shot (``pipeline.sheets``)


class AttemptStatus(StrEnum):
    RESERVED = "reserved"
    SUBMITTING = "submitting"
    SUBMISSION_UNKNOWN = "submission_unknown"
    SUBMITTED = "submitted"
    RENDERING = "rendering"
    FETCHED = "fetched"
    GATING = "gating"
    ACCEPTED = "accepted"
    REPAIRED = "repaired"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELLED = "cancelled"


# --- named groups of states ----------------------------------------------------------------------

JOB_ENDED = frozenset({JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED})
"""A job in one of these will not move again unless re-rendered."""
JOB_UNFINISHED = frozenset({JobStatus.PLANNED, JobStatus.RUNNING})
"""A job an engine should (still) drive: resumed at start, cancellable, counted as in flight."""
JOB_RERENDERABLE = frozenset({JobStatus.DELIVERED, JobStatus.FAILED})
"""A finished job one shot of which may be re-rendered (a cancelled job may not)."""

SHOT_ENDED = frozenset({ShotStatus.NORMALISED, ShotStatus.FAILED, ShotStatus.CANCELLED})
"""A shot whose work is over: the job may go on to consistency and stitching once all are."""
SHOT_HAS_CLIP = frozenset({ShotStatus.ACCEPTED, ShotStatus.NORMALISED})
"""A shot with an accepted clip (a download, a cache hit, a ``continues`` predecessor)."""
SHOT_NO_MORE_ATTEMPTS = SHOT_HAS_CLIP | {ShotStatus.FAILED, ShotStatus.CANCELLED}
"""A shot that opens no further attempt."""
SHOT_LOST = frozenset({ShotStatus.FAILED, ShotStatus.CANCELLED})
"""A shot that ended without a clip: the shot continuing from it cannot start."""
SHOT_CANCELLABLE = frozenset({ShotStatus.PLANNED, ShotStatus.RENDERING})
SHOT_FAILABLE = frozenset({ShotStatus.PLANNED, ShotStatus.RENDERING, ShotStatus.ACCEPTED})
"""A shot that can still fail (once normalised, failed or cancelled, it has ended)."""

ATTEMPT_GATED = frozenset({AttemptStatus.ACCEPTED, AttemptStatus.REPAIRED, AttemptStatus.REJECTED})
"""The gate has judged the clip."""
ATTEMPT_ACCEPTED = frozenset({AttemptStatus.ACCEPTED, AttemptStatus.REPAIRED})
"""The attempt's clip was kept (as it came, or repaired)."""
ATTEMPT_ENDED = ATTEMPT_GATED | {AttemptStatus.FAILED, AttemptStatus.CANCELLED}
"""The attempt will not move again."""
ATTEMPT_FINISHED = ATTEMPT_GATED | {AttemptStatus.FAILED}
"""An attempt that ended with an outcome of its own (gated or failed), not closed by its job."""
ATTEMPT_SUBMITTABLE = frozenset({AttemptStatus.RESERVED, AttemptStatus.SUBMITTING})
"""Not yet known to the provider (``submitting`` may be: the call was sent, no job id stored)."""
ATTEMPT_HELD = frozenset({AttemptStatus.SUBMISSION_UNKNOWN})
"""A create may or may not have reached a provider that offers no way to find out (no client
reference id, no list endpoint): never resubmitted automatically, never closed by its job, keeps its
worst-case reservation; its shot waits until an operator resolves it (``pipeline.recovery``)."""
ATTEMPT_AT_PROVIDER = frozenset({AttemptStatus.SUBMITTED, AttemptStatus.RENDERING})
"""The provider holds a job for the attempt: poll it."""
ATTEMPT_IN_FLIGHT = ATTEMPT_AT_PROVIDER | {AttemptStatus.SUBMITTING}
"""Counts against the model's concurrency; a provider job may exist to cancel."""
ATTEMPT_PROVIDER_DONE = frozenset({AttemptStatus.FETCHED, AttemptStatus.GATING})
"""The provider's part is done; the clip is (being) gated."""
ATTEMPT_PAST_RENDER = ATTEMPT_PROVIDER_DONE | ATTEMPT_GATED
"""The provider job succeeded (the clip was fetched)."""


# --- the transition tables -----------------------------------------------------------------------


E = TypeVar("E", JobStatus, ShotStatus, AttemptStatus)


@dataclass(frozen=True)
class Transition(Generic[E]):
    """``source -> target`` emitting ``event``; a ``None`` source creates the row."""

    source: E | None
    target: E
    event: str


def _edges(sources: Iterable[E | None], target: E, event: str) -> list[Transition[E]]:
    return [Transition(source, target, event) for source in sources]


J, S, A = JobStatus, ShotStatus, AttemptStatus

JOB_TRANSITIONS: tuple[Transition[JobStatus], ...] = (
    *_edges([None], J.PLANNED, "job.created"),
    # running -> running: a resumed job starts again and says so
    *_edges([J.PLANNED, J.RUNNING], J.RUNNING, "job.running"),
    *_edges([J.RUNNING], J.DELIVERED, "job.delivered"),
    *_edges([J.PLANNED, J.RUNNING], J.FAILED, "job.failed"),
    *_edges([J.PLANNED, J.RUNNING], J.CANCELLED, "job.cancelled"),
    *_edges(sorted(JOB_RERENDERABLE), J.PLANNED, "job.rerender"),
)

SHOT_TRANSITIONS: tuple[Transition[ShotStatus], ...] = (
    *_edges([None], S.PLANNED, "shot.planned"),
    *_edges([None], S.ACCEPTED, "shot.kept"),  # a committed final keeps the preview's clip
    *_edges([S.PLANNED], S.RENDERING, "shot.rendering"),
    *_edges([S.PLANNED], S.ACCEPTED, "shot.cached"),
    *_edges([S.RENDERING], S.ACCEPTED, "shot.accepted"),
    *_edges([S.ACCEPTED], S.NORMALISED, "shot.normalised"),
    *_edges(sorted(SHOT_FAILABLE), S.FAILED, "shot.failed"),
    *_edges(sorted(SHOT_CANCELLABLE), S.CANCELLED, "shot.cancelled"),
    *_edges([S.NORMALISED, S.FAILED], S.PLANNED, "shot.consistency_rerender"),
    *_edges(sorted(S), S.PLANNED, "shot.rerender"),
)

ATTEMPT_TRANSITIONS: tuple[Transition[AttemptStatus], ...] = (
    *_edges([None], A.RESERVED, "attempt.reserved"),
    *_edges([A.RESERVED], A.SUBMITTING, "attempt.submitting"),
    *_edges([A.SUBMITTING], A.SUBMITTED, "attempt.submitted"),
    # a restart found the create's outcome unknowable; an operator resolves it either way
    *_edges([A.SUBMITTING], A.SUBMISSION_UNKNOWN, "attempt.submission_unknown"),
    *_edges([A.SUBMISSION_UNKNOWN], A.SUBMITTED, "attempt.resolved"),
    *_edges([A.SUBMISSION_UNKNOWN], A.FAILED, "attempt.resolved"),
    *_edges([A.SUBMITTED], A.RENDERING, "attempt.rendering"),
    *_edges(sorted(ATTEMPT_AT_PROVIDER), A.FETCHED, "attempt.fetched"),
    *_edges([A.FETCHED], A.GATING, "attempt.gating"),
    *(edge for to in sorted(ATTEMPT_GATED) for edge in _edges([A.GATING], to, "attempt.gated")),
    # reserved -> failed: the reservation did not fit the budget
    *_edges([A.RESERVED, *sorted(ATTEMPT_IN_FLIGHT)], A.FAILED, "attempt.failed"),
    *_edges(
        [A.RESERVED, *sorted(ATTEMPT_IN_FLIGHT), *sorted(ATTEMPT_PROVIDER_DONE)],
        A.CANCELLED,
        "attempt.closed",
    ),
)

TRANSITIONS: dict[str, tuple[Transition[Any], ...]] = {
    "job": JOB_TRANSITIONS,
    "shot": SHOT_TRANSITIONS,
    "attempt": ATTEMPT_TRANSITIONS,
}
"""Every entity's table, by the name used in events (``job.*``, ``shot.*``, ``attempt.*``)."""
