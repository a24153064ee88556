"""The edit for NLEs from a synthetic edit plan (no rendering): OTIO, CMX 3600 EDL and FCPXML,
each read back and held against the plan."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from xml.etree import ElementTree as ET

import opentimelineio as otio
import pytest

from media.runner import run_ffmpeg
from stitching import MusicBed, OutputProfile, interchange
from stitching.interchange import (
    InterchangeError,
    NoEdlError,
    edl_problem,
    export,
    interchange_paths,
    render,
)
from tests.stitching.interchange_checks import (
    check_edl,
    check_fcpxml,
    check_otio,
    edl_events,
    synthetic_plan,
)

PROFILE = OutputProfile(160, 90, 24)
EVERY_KIND = [
    ("open", 24, "fade:0.25"),
    ("b", 30, "crossfade:0.5"),
    ("c", 25, "wipe:0.25"),
    ("d", 24, "fade:0.5"),
    ("e", 20, "cut"),
]
CUTS_AND_CROSSFADE = [("a", 24, "cut"), ("b", 24, "crossfade:0.25"), ("c", 24, "cut")]


def _otio(plan, **kwargs) -> otio.schema.Timeline:
    return otio.adapters.read_from_string(render(plan, "otio", "out", **kwargs), "otio_json")


class TestOtio:
    @pytest.mark.parametrize("shots", [EVERY_KIND, CUTS_AND_CROSSFADE])
    def test_reads_back_as_the_plan(self, shots):
        plan = synthetic_plan(PROFILE, shots)
        timeline = _otio(plan)
        check_otio(timeline, plan)
        assert timeline.name == "out"
        assert timeline.metadata["shotline"]["total_frames"] == plan.total_frames

    def test_transitions_are_centred_on_their_cuts(self):
        plan = synthetic_plan(PROFILE, EVERY_KIND)
        track = _otio(plan).tracks[0]
        joins = [item for item in track if isinstance(item, otio.schema.Transition)]
        offsets = [(j.name, j.in_offset.value, j.out_offset.value) for j in joins]
        assert offsets == [
            ("Fade In", 0, 6),
            ("Cross Dissolve", 6, 6),
            ("Wipe", 3, 3),
            ("Dip to Black", 6, 6),
        ]

    def test_ntsc_rate_keeps_whole_frames(self):
        profile = OutputProfile(160, 90, 29.97)
        plan = synthetic_plan(profile, [("a", 30, "cut"), ("b", 31, "crossfade:0.3")])
        timeline = _otio(plan)
        check_otio(timeline, plan)
        assert timeline.tracks[0].duration().rate == pytest.approx(30000 / 1001)

    def test_music_bed_loops_on_its_own_track(self, tmp_path):
        music = tmp_path / "bed.m4a"
        run_ffmpeg(["-f", "lavfi", "-i", "sine=f=220:r=48000:d=1", "-c:a", "aac", str(music)])
        plan = synthetic_plan(PROFILE, CUTS_AND_CROSSFADE, music=MusicBed(music, gain_db=-20))
        timeline = _otio(plan)
        check_otio(timeline, plan)
        bed = timeline.tracks[2]
        assert bed.kind == otio.schema.TrackKind.Audio
        lengths = [round(clip.source_range.duration.value) for clip in bed]
        assert lengths == [24, 24, 18]  # 1 s of music under 66 frames
        assert round(bed.duration().value) == plan.total_frames
        assert {clip.metadata["shotline"]["gain_db"] for clip in bed} == {-20}

    def test_unreadable_music_is_one_clip_under_the_programme(self, tmp_path):
        plan = synthetic_plan(PROFILE, CUTS_AND_CROSSFADE, music=MusicBed(tmp_path / "gone.wav"))
        bed = _otio(plan).tracks[2]
        assert [round(clip.source_range.duration.value) for clip in bed] == [plan.total_frames]

    def test_portable_names_no_server_path(self):
        plan = synthetic_plan(PROFILE, CUTS_AND_CROSSFADE)
        text = render(plan, "otio", "out", portable=True)
        assert "/srv/" not in text
        clip = _otio(plan, portable=True).find_clips()[0]
        assert clip.media_reference.target_url == "segment-a.mp4"
        assert clip.metadata["shotline"]["source_clip"] == "a.mp4"

    def test_absolute_media_are_file_urls(self):
        clip = _otio(synthetic_plan(PROFILE, CUTS_AND_CROSSFADE)).find_clips()[0]
        assert clip.media_reference.target_url == "file:///srv/jobs/j1/segment-a.mp4"
        assert clip.metadata["shotline"]["source_clip"] == "/srv/assets/j1/a.mp4"


class TestEdl:
    @pytest.mark.parametrize("shots", [EVERY_KIND, CUTS_AND_CROSSFADE])
    def test_events_match_the_plan(self, shots):
        plan = synthetic_plan(PROFILE, shots)
        check_edl(render(plan, "edl", "out"), plan)

    def test_adapter_reads_it_back(self):
        """The OTIO CMX reader (it refuses a fade in from black at the start, so none here)."""
        shots = [
            ("a", 24, "cut"),
            ("b", 30, "crossfade:0.5"),
            ("c", 24, "cut"),
            ("d", 25, "wipe:0.25"),
        ]
        plan = synthetic_plan(PROFILE, shots)
        text = render(plan, "edl", "out")
        track = otio.adapters.read_from_string(text, "cmx_3600", rate=24).tracks[0]
        clips = list(track.find_clips())
        assert [clip.name for clip in clips] == [shot.shot_id for shot in plan.shots]
        for index, (clip, shot) in enumerate(zip(clips, plan.shots, strict=True)):
            where = track.range_of_child(clip)
            assert where.start_time.value == shot.timeline_in
            assert clip.source_range.start_time.value == 0
            end = plan.shots[index + 1].timeline_in if index + 1 < len(plan.shots) else None
            assert where.end_time_exclusive().value == (end or plan.total_frames)
        joins = [item for item in track if isinstance(item, otio.schema.Transition)]
        assert [(j.transition_type, j.out_offset.value) for j in joins] == [
            ("SMPTE_Dissolve", 12),
            ("SMPTE_Wipe", 6),
        ]
        assert clips[0].media_reference.target_url == "/srv/jobs/j1/segment-a.mp4"

    def test_wipe_keeps_the_columns(self):
        text = render(synthetic_plan(PROFILE, EVERY_KIND), "edl", "out")
        lines = [line for line in text.splitlines() if line[:3].isdigit()]
        wipe = next(line for line in lines if " W001 " in line)
        assert len({line.index("00:") for line in lines}) == 1
        assert wipe.split()[3:5] == ["W001", "006"]

    def test_drop_frame_rate(self):
        profile = OutputProfile(160, 90, 29.97)
        plan = synthetic_plan(profile, [("a", 1900, "cut"), ("b", 40, "crossfade:0.5")])
        text = render(plan, "edl", "out")
        check_edl(text, plan)
        assert ";" in text

    def test_reels_are_unique_and_short(self):
        shots = [("a-very-long-shot-id", 24, "cut"), ("a-very-long-shot-id-2", 24, "cut")]
        events = edl_events(render(synthetic_plan(PROFILE, shots), "edl", "out"), Fraction(24))
        assert [rows[0][0] for rows in events.values()] == ["SHOT0001", "SHOT0002"]


class TestFcpxml:
    @pytest.mark.parametrize("shots", [EVERY_KIND, CUTS_AND_CROSSFADE])
    def test_spine_matches_the_plan(self, shots):
        plan = synthetic_plan(PROFILE, shots)
        text = render(plan, "fcpxml", "out")
        assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>')
        sequence = check_fcpxml(text, plan)
        assert sequence.get("tcFormat") == "NDF"

    def test_every_reference_resolves(self):
        root = ET.fromstring(render(synthetic_plan(PROFILE, EVERY_KIND), "fcpxml", "out"))
        ids = {element.get("id") for element in root.iterfind("resources/*")}
        refs = {element.get("ref") for element in root.iter() if element.get("ref")}
        assert refs <= ids
        assert len(ids) == len(list(root.iterfind("resources/*")))

    def test_music_is_connected_under_the_first_clip(self, tmp_path):
        music = tmp_path / "bed.m4a"
        run_ffmpeg(["-f", "lavfi", "-i", "sine=f=220:r=48000:d=1", "-c:a", "aac", str(music)])
        plan = synthetic_plan(PROFILE, CUTS_AND_CROSSFADE, music=MusicBed(music, gain_db=-18))
        sequence = check_fcpxml(render(plan, "fcpxml", "out"), plan)
        bed = sequence.findall("spine/asset-clip[1]/asset-clip")
        assert [clip.get("lane") for clip in bed] == ["-1"] * 3
        assert [clip.get("offset") for clip in bed] == ["0s", "24/24s", "48/24s"]
        assert [clip.get("duration") for clip in bed] == ["24/24s", "24/24s", "18/24s"]
        volumes = {clip.find("adjust-volume").get("amount") for clip in bed}  # type: ignore[union-attr]
        assert volumes == {"-18dB"}

    def test_ntsc_times_are_whole_frames(self):
        plan = synthetic_plan(
            OutputProfile(160, 90, 29.97), [("a", 30, "fade:0.2"), ("b", 31, "cut")]
        )
        sequence = check_fcpxml(render(plan, "fcpxml", "out"), plan)
        assert sequence.get("tcFormat") == "DF"
        assert sequence.get("duration") == "61061/30000s"

    def test_title_and_names_are_escaped(self):
        text = render(synthetic_plan(PROFILE, CUTS_AND_CROSSFADE), "fcpxml", 'cut & "final" <v2>')
        project = ET.fromstring(text).find("library/event/project")
        assert project is not None
        assert project.get("name") == 'cut & "final" <v2>'


def test_export_writes_the_three_files_beside_the_output(tmp_path):
    plan = synthetic_plan(PROFILE, EVERY_KIND)
    out = tmp_path / "film.mp4"
    paths = export(plan, out)
    assert paths == interchange_paths(out)
    assert {path.name for path in paths.values()} == {"film.otio", "film.fcpxml", "film.edl"}
    check_otio(otio.adapters.read_from_file(str(paths["otio"])), plan)
    check_edl(paths["edl"].read_text(), plan)
    check_fcpxml(paths["fcpxml"].read_text(), plan)
    assert Path(paths["edl"]).read_text().startswith("TITLE: film\n")


def test_a_format_that_cannot_be_written_is_named(tmp_path, monkeypatch):
    def refuse(*args: object) -> str:
        raise ValueError("no such effect")

    monkeypatch.setattr(interchange, "fcpxml_text", refuse)
    with pytest.raises(InterchangeError, match=r"^film\.fcpxml: cannot be written: no such effect"):
        export(synthetic_plan(PROFILE, CUTS_AND_CROSSFADE), tmp_path / "film.mp4")


SMPTE_RATES = [23.976, 24, 25, 29.97, 30, 47.952, 48, 50, 59.94, 60]


@pytest.mark.parametrize("fps", SMPTE_RATES)
def test_smpte_rates_have_an_edl(fps):
    assert edl_problem(float(OutputProfile(160, 90, fps).rate)) is None


@pytest.mark.parametrize("fps", [10, 12, 15, 72, 90, 100, 119.88, 120, 13.37])
def test_other_rates_have_no_edl_and_the_rest_is_written(tmp_path, fps):
    """Rates the storyboard accepts (10-120 fps) but CMX 3600 cannot count: the stitch failed
    after every shot was paid for (``SMPTE timecode does not support this rate``). The .otio and
    .fcpxml carry the edit; no .edl is written, and one left by an earlier render goes."""
    frames = round(fps)  # one second a shot
    shots = [("a", frames, "cut"), ("b", frames, "crossfade:0.5"), ("c", frames, "cut")]
    plan = synthetic_plan(OutputProfile(160, 90, fps), shots)
    out = tmp_path / "film.mp4"
    interchange_paths(out)["edl"].write_text("stale")
    paths = export(plan, out)
    assert set(paths) == {"otio", "fcpxml"}
    assert not (tmp_path / "film.edl").exists()
    check_otio(otio.adapters.read_from_file(str(paths["otio"])), plan)
    check_fcpxml(paths["fcpxml"].read_text(), plan)
    with pytest.raises(NoEdlError, match=r"^film\.edl: this output has no EDL: CMX 3600 timecode"):
        render(plan, "edl", "film")
