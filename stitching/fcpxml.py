"""An edit plan as FCPXML 1.10, for Final Cut Pro 10.6 and later (DaVinci Resolve imports it too).

One asset per normalised segment (the provider's clip in the clip's note), the shots as asset clips
on the primary storyline laid out by ``stitching.layout``, each transition between them with its
audio crossfade, the music bed as connected audio clips under the first shot (lane -1, its gain
as volume), and each line a tts stage spoke as a connected audio clip of its shot (lane -2, role
dialogue, disabled: its sound is already mixed into the shot's own). Times are rationals of whole frames of the output rate (``frames * den / num`` s).

The effect ids are Final Cut Pro's built-in transitions, as they appear in its own exports.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from stitching.layout import Cut, Join, MediaNames, layout, music_loops, music_name
from stitching.plan import EditPlan

VERSION = "1.10"
HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n'
EFFECTS = {
    "Cross Dissolve": "FxPlug:4731E73A-8DAC-4113-9A30-AE85B1761265",
    "Fade To Color": "FxPlug:F779C565-486D-4633-8035-0374B4DB8F5C",
    "Wipe": "FxPlug:857E2FBA-98DB-411B-A88C-CE6ABC1F65D8",
    "Audio Crossfade": "FFAudioTransition",
}
VIDEO_EFFECT = {"crossfade": "Cross Dissolve", "fade": "Fade To Color", "wipe": "Wipe"}
FORMAT_ID = "r1"


class _Times:
    def __init__(self, rate: Fraction) -> None:
        self.rate = rate

    def __call__(self, frames: int) -> str:
        """``frames`` as an FCPXML time (``0s`` or ``N/Ds`` with D the rate's numerator)."""
        if frames == 0:
            return "0s"
        return f"{frames * self.rate.denominator}/{self.rate.numerator}s"


def _effect_of(join: Join) -> str:
    return "Cross Dissolve" if join.fade_in else VIDEO_EFFECT[join.kind]


def fcpxml_text(
    plan: EditPlan,
    title: str,
    names: MediaNames,
    voices: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The plan as an FCPXML document (see the module docstring)."""
    at = _Times(plan.profile.rate)
    cuts = layout(plan)
    root = ET.Element("fcpxml", version=VERSION)
    resources = ET.SubElement(root, "resources")
    ET.SubElement(
        resources,
        "format",
        id=FORMAT_ID,
        name="FFVideoFormatRateUndefined",
        frameDuration=at(1),
        width=str(plan.profile.width),
        height=str(plan.profile.height),
        colorSpace="1-1-1 (Rec. 709)",
    )
    effects = _effects(resources, cuts)
    assets = [
        _asset(resources, f"r{n}", cut, at, names) for n, cut in enumerate(cuts, 2 + len(effects))
    ]
    event = ET.SubElement(ET.SubElement(root, "library"), "event", name="shotline")
    project = ET.SubElement(event, "project", name=title)
    sequence = ET.SubElement(
        project,
        "sequence",
        format=FORMAT_ID,
        duration=at(plan.total_frames),
        tcStart="0s",
        tcFormat=_tc_format(plan),
        audioLayout="stereo",
        audioRate=f"{plan.profile.sample_rate / 1000:g}k",
    )
    spine = ET.SubElement(sequence, "spine")
    clips = []
    for cut, asset in zip(cuts, assets, strict=True):
        if cut.into is not None:
            _transition(spine, cut.into, effects, at)
        clips.append(_asset_clip(spine, cut, asset, at, names))
    if plan.music is not None:
        _music(resources, clips[0], cuts[0], plan, f"r{2 + len(effects) + len(cuts)}", names)
    for n, (cut, clip) in enumerate(zip(cuts, clips, strict=True)):
        voice = (voices or {}).get(cut.shot.shot_id)
        if voice and voice.get("path"):
            _voice(resources, clip, voice, at, f"v{n + 1}", names)
    ET.indent(root, space="  ")
    return HEADER + ET.tostring(root, encoding="unicode") + "\n"


def _tc_format(plan: EditPlan) -> str:
    rate = plan.profile.rate
    return "DF" if rate.denominator == 1001 and rate.numerator in (30000, 60000) else "NDF"


def _effects(resources: ET.Element, cuts: list[Cut]) -> dict[str, str]:
    """Declare the transitions' effects used, once each; their resource ids by name."""
    used = {_effect_of(cut.into) for cut in cuts if cut.into is not None}
    if used:
        used.add("Audio Crossfade")
    ids = {}
    for n, name in enumerate(sorted(used), 2):
        ids[name] = f"r{n}"
        ET.SubElement(resources, "effect", id=ids[name], name=name, uid=EFFECTS[name])
    return ids


def _asset(resources: ET.Element, ident: str, cut: Cut, at: _Times, names: MediaNames) -> str:
    segment = cut.shot.segment
    asset = ET.SubElement(
        resources,
        "asset",
        id=ident,
        name=segment.path.stem,
        start="0s",
        duration=at(segment.frames),
        hasVideo="1",
        format=FORMAT_ID,
        videoSources="1",
        hasAudio="1",
        audioSources="1",
        audioChannels="2",
        audioRate=str(segment.audio_rate),
    )
    ET.SubElement(asset, "media-rep", kind="original-media", src=names.url(segment.path))
    return ident


def _asset_clip(
    spine: ET.Element, cut: Cut, asset: str, at: _Times, names: MediaNames
) -> ET.Element:
    clip = ET.SubElement(
        spine,
        "asset-clip",
        ref=asset,
        offset=at(cut.record_in),
        name=cut.shot.shot_id,
        start=at(cut.source_in),
        duration=at(cut.frames),
        format=FORMAT_ID,
    )
    note = f"shotline shot {cut.shot.shot_id}, transition in: {cut.shot.transition}"
    if cut.shot.segment.source:
        note += f", source clip: {names.path(cut.shot.segment.source)}"
    ET.SubElement(clip, "note").text = note
    return clip


def _transition(spine: ET.Element, join: Join, effects: dict[str, str], at: _Times) -> None:
    effect = _effect_of(join)
    element = ET.SubElement(
        spine, "transition", name=join.name, offset=at(join.start), duration=at(join.frames)
    )
    ET.SubElement(element, "filter-video", ref=effects[effect], name=effect)
    audio = effects["Audio Crossfade"]
    ET.SubElement(element, "filter-audio", ref=audio, name="Audio Crossfade")


def _music(
    resources: ET.Element,
    parent: ET.Element,
    first: Cut,
    plan: EditPlan,
    ident: str,
    names: MediaNames,
) -> None:
    """The bed as connected clips of the first shot (times in that clip's own time)."""
    assert plan.music is not None
    at = _Times(plan.profile.rate)
    loops, length = music_loops(plan)
    name = music_name(plan.music)
    asset = ET.SubElement(
        resources,
        "asset",
        id=ident,
        name=name,
        start="0s",
        duration=at(length or plan.total_frames),
        hasAudio="1",
        audioSources="1",
        audioChannels="2",
        audioRate=str(plan.profile.sample_rate),
    )
    ET.SubElement(asset, "media-rep", kind="original-media", src=names.url(plan.music.path))
    for loop in loops:
        offset = first.source_in + loop.record_in - first.record_in
        clip = ET.SubElement(
            parent,
            "asset-clip",
            ref=ident,
            lane="-1",
            offset=at(offset),
            name=name,
            start="0s",
            duration=at(loop.frames),
            audioRole="music",
        )
        ET.SubElement(clip, "adjust-volume", amount=f"{plan.music.gain_db:g}dB")


def _voice(
    resources: ET.Element,
    parent: ET.Element,
    voice: Mapping[str, Any],
    at: _Times,
    ident: str,
    names: MediaNames,
) -> None:
    """A spoken line as a connected clip of its shot, where it plays in the shot's segment."""
    frames = max(1, round(float(voice["seconds"]) * at.rate))
    path = Path(str(voice["path"]))
    asset = ET.SubElement(
        resources, "asset", id=ident, name=path.stem, start="0s", duration=at(frames),
        hasAudio="1", audioSources="1", audioChannels="1", audioRate="48000",
    )  # fmt: skip
    ET.SubElement(asset, "media-rep", kind="original-media", src=names.url(path))
    ET.SubElement(
        parent, "asset-clip", ref=ident, lane="-2",
        offset=at(round(float(voice["offset_s"]) * at.rate)), name=f"{path.stem}",
        start="0s", duration=at(frames), audioRole="dialogue", enabled="0",
    )  # fmt: skip
