"""Edit interchange: beside every output, its edit plan as OpenTimelineIO (``OUT.otio``), FCPXML
(``OUT.fcpxml``) and CMX 3600 EDL (``OUT.edl``), for an editor to finish the cut in an NLE.

The OTIO timeline is built with ``opentimelineio`` from ``stitching.layout``: a video track ``V1``
of one clip per shot (its normalised segment, the provider's clip kept in the clip's metadata),
transitions between them, the shots' sound on ``A1`` (same clips and transitions) and the music bed
on ``A2`` when the plan has one, and the voice clips of lines a tts stage spoke on a track
``voices``, disabled (their sound is already mixed into each shot's on ``A1``; an editor enables it
to re-place or re-level a line). The EDL is that timeline through the OTIO project's CMX 3600
adapter (picture track only, as CMX 3600 lists one track). The FCPXML comes from a writer of our own
(``stitching.fcpxml``): the OTIO project's FCP X adapter drops transitions. Captions (the cues of
``OUT.srt``) are markers on the OTIO timeline's stack, one per cue, spanning it, its text as the
marker's name (OTIO has no subtitle track kind; NLEs that read OTIO markers show them); the FCPXML
and the EDL carry no captions.

``opentimelineio`` is imported when a file is written, not with ``stitching`` (it costs ~0.25 s).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from stitching.captions import Cue
from stitching.errors import StitchError
from stitching.fcpxml import fcpxml_text
from stitching.layout import Cut, Join, MediaNames, layout, music_loops, music_name
from stitching.plan import EditPlan

if TYPE_CHECKING:
    import opentimelineio as otio

Format = Literal["otio", "fcpxml", "edl"]
FORMATS: tuple[Format, ...] = ("otio", "fcpxml", "edl")
OTIO_TYPES = {"crossfade": "SMPTE_Dissolve", "fade": "SMPTE_Dissolve", "wipe": "SMPTE_Wipe"}
EDL_WIPE = "W001"  # SMPTE horizontal wipe, the nearest CMX code to the stitcher's wipe


class InterchangeError(StitchError):
    """An edit interchange file cannot be written."""


class NoEdlError(InterchangeError):
    """The output's frame rate has no CMX 3600 timecode, so it has no EDL (``edl_problem``)."""

    status_code = 404


def edl_problem(rate: float) -> str | None:
    """Why a CMX 3600 EDL cannot count frames at ``rate`` fps, or None. Its timecode (through the
    OTIO adapter) exists only at the SMPTE rates: 23.976, 24, 25, 29.97, 30, 47.952, 48, 50,
    59.94 and 60 fps; the OTIO timeline and the FCPXML carry the edit at any rate."""
    import opentimelineio as otio

    try:
        otio.opentime.to_timecode(otio.opentime.RationalTime(0, rate), rate)
    except ValueError:
        return (
            f"CMX 3600 timecode has no {rate:.6g} fps (SMPTE rates only: 23.976, 24, 25, 29.97, "
            "30, 47.952, 48, 50, 59.94, 60); the .otio and .fcpxml files carry the edit"
        )
    return None


def interchange_paths(out: Path) -> dict[str, Path]:
    """Where ``export`` writes each format for the output ``out``."""
    return {fmt: out.with_name(f"{out.stem}.{fmt}") for fmt in FORMATS}


Voices = Mapping[str, Mapping[str, Any]]
"""The voice clips by shot id (``Captions.voices``: ``path``, ``offset_s``, ``seconds``, ...)."""


def export(
    plan: EditPlan, out: Path, cues: Sequence[Cue] = (), voices: Voices | None = None
) -> dict[str, Path]:
    """Write ``OUT.otio``, ``OUT.fcpxml`` and ``OUT.edl`` beside ``out``; their paths by format.

    At a frame rate CMX 3600 cannot count (``edl_problem``) there is no ``OUT.edl`` (one left
    there by an earlier render is removed): the picture is deliverable at any rate the storyboard
    accepts, and the other two files carry the edit."""
    paths = interchange_paths(out)
    formats = FORMATS
    if edl_problem(float(plan.profile.rate)) is not None:
        formats = tuple(fmt for fmt in FORMATS if fmt != "edl")
        paths.pop("edl").unlink(missing_ok=True)
    for fmt, text in _texts(plan, out.stem, MediaNames(), formats, cues, voices or {}).items():
        paths[fmt].write_text(text, encoding="utf-8")
    return paths


def render(plan: EditPlan, fmt: Format, title: str, *, portable: bool = False) -> str:
    """The plan as one interchange format. ``portable``: media named by file name only. Raises
    ``NoEdlError`` for an EDL at a rate CMX 3600 cannot count (``edl_problem``)."""
    problem = edl_problem(float(plan.profile.rate)) if fmt == "edl" else None
    if problem is not None:
        raise NoEdlError(f"{title}.edl: this output has no EDL: {problem}")
    return _texts(plan, title, MediaNames(portable), (fmt,))[fmt]


def _texts(
    plan: EditPlan,
    title: str,
    names: MediaNames,
    formats: tuple[Format, ...],
    cues: Sequence[Cue] = (),
    voices: Voices | None = None,
) -> dict[Format, str]:
    import opentimelineio as otio

    texts: dict[Format, str] = {}
    built = None  # one OTIO timeline for both the .otio and the .edl
    for fmt in formats:
        try:
            if fmt == "fcpxml":
                texts[fmt] = fcpxml_text(plan, title, names, voices)
                continue
            if built is None:
                built = timeline(plan, title, names, cues, voices)
            if fmt == "otio":
                texts[fmt] = str(otio.adapters.write_to_string(built, "otio_json"))
            else:
                texts[fmt] = edl_text(built, plan)
        except (otio.exceptions.OTIOError, ValueError) as exc:
            raise InterchangeError(f"{title}.{fmt}: cannot be written: {exc}") from exc
    return texts


def timeline(
    plan: EditPlan,
    title: str,
    names: MediaNames,
    cues: Sequence[Cue] = (),
    voices: Voices | None = None,
) -> otio.schema.Timeline:
    """The plan as an OTIO timeline (see the module docstring)."""
    import opentimelineio as otio

    rate = float(plan.profile.rate)
    built = otio.schema.Timeline(name=title, global_start_time=otio.opentime.RationalTime(0, rate))
    built.metadata["shotline"] = _timeline_metadata(plan)
    cuts = layout(plan)
    for name, kind in (("V1", otio.schema.TrackKind.Video), ("A1", otio.schema.TrackKind.Audio)):
        track = otio.schema.Track(name=name, kind=kind)
        for cut in cuts:
            if cut.into is not None:
                track.append(_transition(cut.into, rate))
            track.append(_clip(cut, rate, names))
        built.tracks.append(track)
    if plan.music is not None:
        built.tracks.append(_music_track(plan, rate, names))
    if voices:
        built.tracks.append(_voice_track(plan, rate, names, voices))
    for cue in cues:
        built.tracks.markers.append(_caption(cue, rate))
    return built


def _caption(cue: Cue, rate: float) -> otio.schema.Marker:
    import opentimelineio as otio

    start = otio.opentime.RationalTime(round(cue.start_ms * rate / 1000), rate)
    length = otio.opentime.RationalTime(round((cue.end_ms - cue.start_ms) * rate / 1000), rate)
    return otio.schema.Marker(
        name="\n".join(cue.lines),
        marked_range=otio.opentime.TimeRange(start, length),
        color=otio.schema.MarkerColor.YELLOW,
        metadata={"shotline": {"caption": cue.to_dict()}},
    )


def _timeline_metadata(plan: EditPlan) -> dict[str, Any]:
    profile = plan.profile
    return {
        "fps": str(profile.rate),
        "width": profile.width,
        "height": profile.height,
        "sample_rate": profile.sample_rate,
        "total_frames": plan.total_frames,
        "total_samples": plan.total_samples,
    }


def _range(start: int, frames: int, rate: float) -> otio.opentime.TimeRange:
    import opentimelineio as otio

    rt = otio.opentime.RationalTime
    return otio.opentime.TimeRange(rt(start, rate), rt(frames, rate))


def _clip(cut: Cut, rate: float, names: MediaNames) -> otio.schema.Clip:
    import opentimelineio as otio

    segment = cut.shot.segment
    reference = otio.schema.ExternalReference(
        target_url=names.url(segment.path), available_range=_range(0, segment.frames, rate)
    )
    data: dict[str, Any] = {
        "shot_id": cut.shot.shot_id,
        "segment": names.path(segment.path),
        "timeline_in": cut.shot.timeline_in,
        "timeline_out": cut.shot.timeline_out,
        "transition": str(cut.shot.transition),
    }
    if segment.source:
        data["source_clip"] = names.path(segment.source)
    return otio.schema.Clip(
        name=cut.shot.shot_id,
        media_reference=reference,
        source_range=_range(cut.source_in, cut.frames, rate),
        metadata={"shotline": data, "cmx_3600": {"reel": _reel(cut)}},
    )


def _transition(join: Join, rate: float) -> otio.schema.Transition:
    import opentimelineio as otio

    rt = otio.opentime.RationalTime
    return otio.schema.Transition(
        name=join.name,
        transition_type=OTIO_TYPES[join.kind],
        in_offset=rt(join.before, rate),
        out_offset=rt(join.after, rate),
        metadata={"shotline": {"transition": join.text, "start": join.start}},
    )


def _music_track(plan: EditPlan, rate: float, names: MediaNames) -> otio.schema.Track:
    import opentimelineio as otio

    assert plan.music is not None
    loops, length = music_loops(plan)
    available = _range(0, length, rate) if length else None
    track = otio.schema.Track(name="A2", kind=otio.schema.TrackKind.Audio)
    data = {"gain_db": plan.music.gain_db, "duck_db": plan.music.duck_db, "looped": True}
    for loop in loops:
        reference = otio.schema.ExternalReference(
            target_url=names.url(plan.music.path), available_range=available
        )
        track.append(
            otio.schema.Clip(
                name=music_name(plan.music),
                media_reference=reference,
                source_range=_range(0, loop.frames, rate),
                metadata={"shotline": {"music": names.path(plan.music.path), **data}},
            )
        )
    return track


def _voice_track(
    plan: EditPlan, rate: float, names: MediaNames, voices: Voices
) -> otio.schema.Track:
    """The voice clips where they play on the programme (the shot's ``sample_in`` plus the line's
    offset), gaps between them; disabled: their sound is in ``A1`` already."""
    import opentimelineio as otio

    track = otio.schema.Track(name="voices", kind=otio.schema.TrackKind.Audio)
    track.enabled = False
    at = 0
    for shot in plan.shots:
        voice = voices.get(shot.shot_id)
        if not voice or not voice.get("path"):
            continue
        start = round((shot.sample_in / plan.profile.sample_rate + float(voice["offset_s"])) * rate)
        frames = max(1, round(float(voice["seconds"]) * rate))
        if start > at:
            track.append(otio.schema.Gap(source_range=_range(0, start - at, rate)))
        path = Path(str(voice["path"]))
        reference = otio.schema.ExternalReference(
            target_url=names.url(path), available_range=_range(0, frames, rate)
        )
        data = {k: v for k, v in voice.items() if k != "path"} | {"voice": names.path(path)}
        track.append(
            otio.schema.Clip(
                name=f"{shot.shot_id} voice",
                media_reference=reference,
                source_range=_range(0, frames, rate),
                metadata={"shotline": data | {"shot_id": shot.shot_id, "mixed_into": "A1"}},
            )
        )
        at = max(at, start) + frames
    return track


def _reel(cut: Cut) -> str:
    """A CMX reel name (8 characters at most): the shot id when it fits, else its position."""
    name = re.sub(r"[^A-Za-z0-9_]", "", cut.shot.shot_id)
    return name if 0 < len(name) <= 8 else f"SHOT{cut.index + 1:04d}"[:8]


def edl_text(built: otio.schema.Timeline, plan: EditPlan) -> str:
    """The picture track as CMX 3600, through the OTIO CMX adapter.

    Three things the adapter's writer leaves out are put in: the ``FCM`` line (drop-frame or
    not), wipes as SMPTE wipe ``W001`` rather than dissolves, and plain paths, not URLs, after
    ``FROM CLIP``. Unique reels come from the clips' ``cmx_3600`` metadata.
    """
    import opentimelineio as otio

    copy = built.deepcopy()  # the writer moves cut points in the timeline it is given
    for clip in copy.find_clips():
        data = clip.metadata.get("shotline", {})
        if "segment" in data:
            clip.media_reference.target_url = data["segment"]
        elif "music" in data:
            clip.media_reference.target_url = data["music"]
        elif "voice" in data:
            clip.media_reference.target_url = data["voice"]
    rate = float(plan.profile.rate)
    text = str(otio.adapters.write_to_string(copy, "cmx_3600", rate=rate, style="avid"))
    wipes = {cut.index + 1 for cut in layout(plan) if cut.into and cut.into.kind == "wipe"}
    lines = [_wipe_code(line, wipes) for line in text.splitlines()]
    drop = ";" in otio.opentime.to_timecode(otio.opentime.RationalTime(0, rate), rate)
    fcm = "FCM: DROP FRAME" if drop else "FCM: NON-DROP FRAME"
    head = 1 if lines and lines[0].startswith("TITLE:") else 0
    return "\n".join([*lines[:head], fcm, *lines[head:]]) + "\n"


_DISSOLVE = re.compile(r"^(\d{3})(\s+\S+\s+V\s+)D (\d{3}) {4}")


def _wipe_code(line: str, wipes: set[int]) -> str:
    match = _DISSOLVE.match(line)
    if match is None or int(match[1]) not in wipes:
        return line
    return f"{match[1]}{match[2]}{EDL_WIPE} {match[3]} {line[match.end() :]}"  # same columns
