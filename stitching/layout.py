"""The edit plan as an editor's timeline: clips that do not overlap, joined by transitions.

The plan overlaps shot ``i`` with the one before it for ``o`` frames from its ``timeline_in``. On an
NLE timeline that overlap is a transition centred on a cut ``o // 2`` frames into it: the outgoing
clip ends and the incoming one starts at the cut, and each lends the transition the frames it needs
from its own segment (its handles). A fade into the first shot is a transition from black that
starts with the timeline. All frames are at the output rate; segments start at their frame 0.

Every interchange format (``stitching.interchange``, ``stitching.fcpxml``) is written from this one
layout, so they agree with each other and with the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import quote

from media.probe import probe
from stitching.plan import EditPlan, MusicBed, ShotPlan

NAMES = {"crossfade": "Cross Dissolve", "fade": "Dip to Black", "wipe": "Wipe"}


@dataclass(frozen=True)
class Join:
    """The transition into a clip: ``before`` frames of it lie before the cut, ``after`` after.

    ``start`` is its first timeline frame (the plan's ``timeline_in`` of the incoming shot).
    """

    kind: str
    text: str
    start: int
    before: int
    after: int

    @property
    def frames(self) -> int:
        return self.before + self.after

    @property
    def fade_in(self) -> bool:
        """A fade from black into the first shot (nothing goes out)."""
        return self.start == 0 and self.before == 0 and self.kind == "fade"

    @property
    def name(self) -> str:
        return "Fade In" if self.fade_in else NAMES[self.kind]


@dataclass(frozen=True)
class Cut:
    """One shot as a clip: segment frames ``[source_in, source_out)`` from ``record_in`` on."""

    index: int
    shot: ShotPlan
    source_in: int
    source_out: int
    record_in: int
    into: Join | None

    @property
    def frames(self) -> int:
        return self.source_out - self.source_in


def _join(shot: ShotPlan, index: int) -> Join | None:
    overlap = shot.transition_frames
    if overlap == 0:
        return None
    before = overlap // 2 if index else 0
    return Join(
        shot.transition.kind, str(shot.transition), shot.timeline_in, before, overlap - before
    )


def layout(plan: EditPlan) -> list[Cut]:
    """Each shot's clip, in timeline order; clip ``i`` ends where clip ``i + 1`` starts."""
    joins = [_join(shot, i) for i, shot in enumerate(plan.shots)]
    cuts = []
    for index, (shot, join) in enumerate(zip(plan.shots, joins, strict=True)):
        head = join.before if join else 0
        following = joins[index + 1] if index + 1 < len(joins) else None
        tail = following.after if following else 0
        cut = Cut(index, shot, head, shot.frames - tail, shot.timeline_in + head, join)
        cuts.append(cut)
    return cuts


@dataclass(frozen=True)
class MusicLoop:
    """One pass of the music bed: its first ``frames`` from ``record_in`` on."""

    record_in: int
    frames: int


def music_loops(plan: EditPlan) -> tuple[list[MusicLoop], int | None]:
    """The bed as the stitcher plays it (looped from its start, cut at the programme's end), in
    whole frames: the passes and the frames one pass lasts (None when the file cannot be read;
    then one pass covers the programme)."""
    music = plan.music
    if music is None:
        return [], None
    info = probe(music.path)
    seconds = info.audio_duration_s or info.duration_s
    total = plan.total_frames
    if info.error or not seconds:
        return [MusicLoop(0, total)], None
    length = max(1, int(Fraction(seconds).limit_denominator(1_000_000) * plan.profile.rate))
    return [MusicLoop(at, min(length, total - at)) for at in range(0, total, length)], length


@dataclass(frozen=True)
class MediaNames:
    """How the files name media: absolute paths and ``file://`` URLs (on the server's disk), or
    ``portable``: the file name alone (a download, to sit beside the media it names)."""

    portable: bool = False

    def url(self, path: Path) -> str:
        return quote(path.name) if self.portable else path.absolute().as_uri()

    def path(self, path: Path | str) -> str:
        found = Path(path)
        return found.name if self.portable else str(found.absolute())


def music_name(music: MusicBed) -> str:
    return music.path.stem or "music"
