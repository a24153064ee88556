"""The edit plan: every shot's place on the timeline in frames and audio samples, as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from foundation.storyboard import Transition
from foundation.timeline import join_problem
from foundation.validation import problems_from
from stitching.errors import PlanError
from stitching.profile import OutputProfile
from stitching.segment import Segment

PLAN_VERSION = 1
XFADE = {"crossfade": "fade", "fade": "fadeblack", "wipe": "wipeleft"}


@dataclass(frozen=True)
class MusicBed:
    """Optional music under the whole timeline, ducked by ``duck_db`` wherever shots have sound."""

    path: Path
    gain_db: Annotated[float, Field(ge=-60.0, le=0.0)] = -18.0
    duck_db: Annotated[float, Field(ge=-60.0, le=0.0)] = -12.0


@dataclass(frozen=True)
class ShotPlan:
    """One shot: its segment, the transition into it and where it sits on the timeline.

    The segment is used from ``source_in`` to ``source_out`` (its own frames); on the timeline it
    covers ``[timeline_in, timeline_out)`` frames and ``[sample_in, sample_out)`` samples.
    ``transition_frames`` overlap the previous shot (for the first shot: a fade-in, no overlap).
    """

    shot_id: str
    segment: Segment
    transition: Transition
    transition_frames: int
    timeline_in: int
    sample_in: int

    @property
    def frames(self) -> int:
        return self.segment.frames

    @property
    def timeline_out(self) -> int:
        return self.timeline_in + self.frames

    @property
    def sample_out(self) -> int:
        return self.sample_in + self.segment.samples

    def to_dict(self) -> dict[str, Any]:
        return {
            "shot_id": self.shot_id,
            "transition": str(self.transition),
            "transition_frames": self.transition_frames,
            "source_in": 0,
            "source_out": self.frames,
            "timeline_in": self.timeline_in,
            "timeline_out": self.timeline_out,
            "sample_in": self.sample_in,
            "sample_out": self.sample_out,
            "segment": self.segment.to_dict(),
        }


@dataclass(frozen=True)
class EditPlan:
    profile: OutputProfile
    shots: tuple[ShotPlan, ...]
    music: MusicBed | None = None

    @property
    def total_frames(self) -> int:
        return self.shots[-1].timeline_out

    @property
    def total_samples(self) -> int:
        return self.profile.samples_for(self.total_frames)

    @property
    def total_seconds(self) -> float:
        return self.profile.seconds(self.total_frames)

    def to_dict(self) -> dict[str, Any]:
        music = None
        if self.music is not None:
            music = {"path": str(self.music.path), "gain_db": self.music.gain_db}
            music["duck_db"] = self.music.duck_db
        return {
            "version": PLAN_VERSION,
            "profile": self.profile.to_dict(),
            "total_frames": self.total_frames,
            "total_samples": self.total_samples,
            "total_seconds": round(self.total_seconds, 6),
            "music": music,
            "shots": [shot.to_dict() for shot in self.shots],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> EditPlan:
        """Rebuild a plan; the timeline is recomputed and must match the stored numbers. A file
        of another shape, or with a value out of its field's bounds, is a ``PlanError`` naming
        the path of each problem (``shots[1].segment.keyframes[0]: ...``)."""
        try:
            stored = _StoredPlan.model_validate_json(text)
            items = [(s.shot_id, s.segment, Transition.parse(s.transition)) for s in stored.shots]
        except ValidationError as exc:
            problems = problems_from(exc, _StoredPlan)
            said = "; ".join(f"{p.path}: {p.message}" for p in problems[:3])
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise PlanError(f"edit plan is not valid: {said}{more}") from None
        except ValueError as exc:  # a transition that does not parse
            raise PlanError(f"edit plan is not valid: {exc}") from None
        plan = plan_edit(items, stored.profile, music=stored.music)
        if plan.total_frames != (stored.total_frames or plan.total_frames):
            raise PlanError(
                f"edit plan says {stored.total_frames} frames, its shots add up to "
                f"{plan.total_frames}"
            )
        return plan


class _StoredShot(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    shot_id: Annotated[str, Field(min_length=1)]
    transition: str
    segment: Segment


class _StoredPlan(BaseModel):
    """The shape of a stored plan (``EditPlan.to_dict``); the profile's, segments' and bed's
    bounds are their dataclasses' annotations. Keys it does not name are ignored."""

    model_config = ConfigDict(allow_inf_nan=False)

    profile: OutputProfile
    shots: Annotated[list[_StoredShot], Field(min_length=1)]
    music: MusicBed | None = None
    total_frames: int | None = None


def _check_segment(shot_id: str, segment: Segment, profile: OutputProfile) -> None:
    size = (segment.width, segment.height)
    if size != (profile.width, profile.height) or segment.fps != str(profile.rate):
        raise PlanError(
            f"shot {shot_id}: segment is {segment.width}x{segment.height}@{segment.fps}, "
            f"profile is {profile.size}@{profile.rate}; normalise it first"
        )
    if segment.samples != profile.samples_for(segment.frames):
        raise PlanError(f"shot {shot_id}: {segment.samples} samples for {segment.frames} frames")


def _transition_problem(index: int, transition: Transition) -> str | None:
    """Kinds the stitcher can draw; whether a transition fits is ``join_problem`` (shared)."""
    if index > 0 and transition.kind not in XFADE and transition.kind != "cut":
        return f"unknown transition {transition}"
    return None


def check_joins(shots: Sequence[tuple[str, Transition, int]], profile: OutputProfile) -> None:
    """Raise ``PlanError`` naming the first shot (id, transition into it, frames) whose
    transition cannot be stitched: ``stitch`` asks before normalising any clip (a clip too short
    for its crossfade was refused once every clip was normalised), ``plan_edit`` again."""
    head = previous = 0
    for index, (shot_id, transition, frames) in enumerate(shots):
        overlap = profile.transition_frames(transition)
        problem = _transition_problem(index, transition) or join_problem(
            index, str(transition), overlap, head, previous, frames
        )
        if problem:
            raise PlanError(f"shot {shot_id}: {problem}")
        head, previous = overlap, frames


def plan_edit(
    segments: list[tuple[str, Segment, Transition]],
    profile: OutputProfile,
    *,
    music: MusicBed | None = None,
) -> EditPlan:
    """Lay normalised segments on a timeline (transition = the one INTO each shot).

    Total frames = sum of segment frames minus every overlap, exactly. Raises ``PlanError`` when a
    segment does not match the profile or transitions overlap each other.
    """
    if not segments:
        raise PlanError("an edit needs at least one shot")
    for shot_id, segment, _ in segments:
        _check_segment(shot_id, segment, profile)
    check_joins([(shot_id, t, segment.frames) for shot_id, segment, t in segments], profile)
    shots: list[ShotPlan] = []
    for index, (shot_id, segment, transition) in enumerate(segments):
        overlap = profile.transition_frames(transition)
        start = 0 if index == 0 else shots[-1].timeline_out - overlap
        sample_in = profile.samples_for(start)
        shots.append(ShotPlan(shot_id, segment, transition, overlap, start, sample_in))
    return EditPlan(profile, tuple(shots), music)
