"""Read an exported edit back and hold it against the edit plan it came from.

The expectations are written from the plan's own numbers (each shot's ``timeline_in``, frames and
transition frames), not from ``stitching.layout``: a clip must show segment frame
``t - timeline_in`` at timeline frame ``t``, the clips must tile ``[0, total_frames)``, and each
transition must cover exactly the plan's overlap, ``[timeline_in, timeline_in + frames)``.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path
from xml.etree import ElementTree as ET

import opentimelineio as otio

from foundation.storyboard import Transition
from stitching import EditPlan, OutputProfile, Segment, ShotPlan, plan_edit

OTIO_TYPE = {"crossfade": "SMPTE_Dissolve", "fade": "SMPTE_Dissolve", "wipe": "SMPTE_Wipe"}
EDL_CODE = {"crossfade": "D", "fade": "D", "wipe": "W001"}
FCP_EFFECT = {"crossfade": "Cross Dissolve", "fade": "Fade To Color", "wipe": "Wipe"}


def synthetic_segment(profile: OutputProfile, name: str, frames: int) -> Segment:
    """A segment record as normalisation would leave it (no file behind it)."""
    return Segment(
        path=Path(f"/srv/jobs/j1/segment-{name}.mp4"),
        audio_path=Path(f"/srv/jobs/j1/segment-{name}.f32"),
        frames=frames,
        samples=profile.samples_for(frames),
        width=profile.width,
        height=profile.height,
        fps=str(profile.rate),
        codec="h264",
        codec_profile="High",
        pix_fmt="yuv420p",
        sar="1:1",
        time_base="1/24000",
        extradata_sha="e",
        audio_codec="aac",
        audio_rate=48000,
        audio_layout="stereo",
        keyframes=(0,),
        source=f"/srv/assets/j1/{name}.mp4",
    )


def synthetic_plan(
    profile: OutputProfile, shots: list[tuple[str, int, str]], **kwargs: object
) -> EditPlan:
    """``shots``: (shot id, frames, transition into it)."""
    items = [
        (name, synthetic_segment(profile, name, frames), Transition.parse(into))
        for name, frames, into in shots
    ]
    return plan_edit(items, profile, **kwargs)  # type: ignore[arg-type]


def _clip_at_plan(track: otio.schema.Track, clip: otio.schema.Clip, shot: ShotPlan) -> int:
    """Check one clip shows its segment where the plan puts it; its track position."""
    where = track.range_of_child(clip)
    start = int(where.start_time.value)
    assert start == where.start_time.value
    assert start - clip.source_range.start_time.value == shot.timeline_in
    available = clip.media_reference.available_range
    assert (available.start_time.value, available.duration.value) == (0, shot.frames)
    return start


def _otio_track(track: otio.schema.Track, plan: EditPlan) -> None:
    clips = [item for item in track if isinstance(item, otio.schema.Clip)]
    assert [clip.name for clip in clips] == [shot.shot_id for shot in plan.shots]
    position = 0
    for shot, clip in zip(plan.shots, clips, strict=True):
        assert _clip_at_plan(track, clip, shot) == position
        position += round(clip.source_range.duration.value)
    assert position == plan.total_frames
    items = list(track)
    joins = {}
    for index, item in enumerate(items):
        if isinstance(item, otio.schema.Transition):
            joins[items[index + 1].name] = (item, index)
    assert set(joins) == {shot.shot_id for shot in plan.shots if shot.transition_frames}
    for number, shot in enumerate(plan.shots):
        if shot.shot_id not in joins:
            continue
        join, index = joins[shot.shot_id]
        before, after = round(join.in_offset.value), round(join.out_offset.value)
        incoming = items[index + 1]
        assert before + after == shot.transition_frames
        assert _clip_at_plan(track, incoming, shot) - before == shot.timeline_in
        assert incoming.source_range.start_time.value - before >= 0  # handle before the cut
        if number:
            outgoing = clips[number - 1]
            end = outgoing.source_range.end_time_exclusive().value
            assert end + after <= plan.shots[number - 1].frames  # handle after the cut
        assert join.transition_type == OTIO_TYPE[shot.transition.kind]
        assert join.metadata["shotline"]["transition"] == str(shot.transition)


def check_otio(timeline: otio.schema.Timeline, plan: EditPlan) -> None:
    """Clip count, in/out frames and transitions of every track against the plan."""
    names = ["V1", "A1"] + (["A2"] if plan.music is not None else [])
    assert [track.name for track in timeline.tracks] == names
    kinds = [track.kind for track in timeline.tracks]
    assert kinds[:2] == [otio.schema.TrackKind.Video, otio.schema.TrackKind.Audio]
    for track in timeline.tracks[:2]:
        assert track.duration().rate == float(plan.profile.rate)
        _otio_track(track, plan)
    for clip, shot in zip(timeline.tracks[0].find_clips(), plan.shots, strict=True):
        data = clip.metadata["shotline"]
        assert data["shot_id"] == shot.shot_id
        assert Path(data["source_clip"]).name == Path(shot.segment.source).name
        assert clip.media_reference.target_url.endswith(shot.segment.path.name)


def frames_of(timecode: str, rate: Fraction) -> int:
    return int(otio.opentime.from_timecode(timecode, float(rate)).value)


_EVENT = re.compile(
    r"^(\d{3})\s+(\S+)\s+V\s+(C|D|W\d{3})\s+(?:(\d{3})\s+)?"
    r"(\S+) (\S+) (\S+) (\S+)$"
)


def edl_events(text: str, rate: Fraction) -> dict[int, list[tuple[str, str, int, list[int]]]]:
    """Event lines by edit number: (reel, code, transition frames, [src in/out, rec in/out])."""
    events: dict[int, list[tuple[str, str, int, list[int]]]] = {}
    for line in text.splitlines():
        match = _EVENT.match(line)
        if match:
            times = [frames_of(tc, rate) for tc in match.groups()[4:]]
            row = (match[2], match[3], int(match[4] or 0), times)
            events.setdefault(int(match[1]), []).append(row)
    return events


def check_edl(text: str, plan: EditPlan) -> None:
    """One event per shot, on CMX terms: each shot from its ``timeline_in`` (where the plan
    starts its overlap) to the next shot's, dissolves and wipes of the plan's frames."""
    rate = plan.profile.rate
    drop = rate.denominator == 1001
    assert text.splitlines()[1] == ("FCM: DROP FRAME" if drop else "FCM: NON-DROP FRAME")
    events = edl_events(text, rate)
    assert sorted(events) == list(range(1, len(plan.shots) + 1))
    for number, shot in enumerate(plan.shots):
        lines = events[number + 1]
        nxt = plan.shots[number + 1].timeline_in if number + 1 < len(plan.shots) else None
        rec_out = plan.total_frames if nxt is None else nxt
        expected = [0, rec_out - shot.timeline_in, shot.timeline_in, rec_out]
        if not shot.transition_frames:
            assert [(code, times) for _, code, _, times in lines] == [("C", expected)]
            continue
        (reel, code, _, times), (_, into, frames, incoming) = lines
        assert (code, into, frames) == ("C", EDL_CODE[shot.transition.kind], shot.transition_frames)
        assert incoming == expected
        assert times[2] == times[3] == shot.timeline_in  # the outgoing side ends where it starts
        if number == 0:
            assert reel == "BL"  # a fade in from black
        else:
            assert times[0] == times[1]
    names = re.findall(r"^\* (?:FROM|TO) CLIP NAME:\s+(\S+)", text, re.M)
    assert list(dict.fromkeys(names)) == [shot.shot_id for shot in plan.shots]


def _frames(value: str, rate: Fraction) -> int:
    assert value.endswith("s"), value
    exact = Fraction(value[:-1]) * rate
    assert exact.denominator == 1, f"{value} is not a whole frame at {rate}"
    return int(exact)


def check_fcpxml(text: str, plan: EditPlan) -> ET.Element:
    """Spine clips and transitions against the plan; the sequence element."""
    rate = plan.profile.rate
    root = ET.fromstring(text)
    assert root.tag == "fcpxml"
    resources = {element.get("id"): element for element in root.iterfind("resources/*")}
    fmt = root.find("resources/format")
    assert fmt is not None
    assert _frames(fmt.get("frameDuration", ""), rate) == 1
    sequence = root.find("library/event/project/sequence")
    assert sequence is not None
    assert _frames(sequence.get("duration", ""), rate) == plan.total_frames
    spine = list(sequence.iterfind("spine/*"))
    clips = [item for item in spine if item.tag == "asset-clip"]
    assert [clip.get("name") for clip in clips] == [shot.shot_id for shot in plan.shots]
    position = 0
    for shot, clip in zip(plan.shots, clips, strict=True):
        offset, start = _frames(clip.get("offset", ""), rate), _frames(clip.get("start", ""), rate)
        assert (offset, offset - start) == (position, shot.timeline_in)
        asset = resources[clip.get("ref")]
        assert _frames(asset.get("duration", ""), rate) == shot.frames
        media = asset.find("media-rep")
        assert media is not None
        assert media.get("src", "").endswith(shot.segment.path.name)
        position += _frames(clip.get("duration", ""), rate)
    assert position == plan.total_frames
    joins = {
        spine[i + 1].get("name"): item for i, item in enumerate(spine) if item.tag == "transition"
    }
    assert set(joins) == {shot.shot_id for shot in plan.shots if shot.transition_frames}
    for number, shot in enumerate(plan.shots):
        if shot.shot_id in joins:
            join = joins[shot.shot_id]
            assert _frames(join.get("offset", ""), rate) == shot.timeline_in
            assert _frames(join.get("duration", ""), rate) == shot.transition_frames
            video = join.find("filter-video")
            assert video is not None
            effect = "Cross Dissolve" if number == 0 else FCP_EFFECT[shot.transition.kind]
            assert resources[video.get("ref")].get("name") == effect
    return sequence
