"""A job rendered by the embedded engine delivers its edit for NLEs beside the MP4, and each file
reads back as the plan the MP4 was assembled from, naming media that exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import opentimelineio as otio
import pysubs2
import pytest

from foundation.settings import get_settings
from media.probe import count_frames
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from pipeline.report import job_report
from stitching import EditPlan
from tests.pipeline.conftest import shot, tiny_board
from tests.stitching.interchange_checks import check_edl, check_fcpxml, check_otio

DIALOGUE = "We leave at dawn."


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], EditPlan, Path]:
    """Three 1 s shots at 160x90, a crossfade into the second: the job's report, plan, output."""
    data = tmp_path_factory.mktemp("edit-job")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOTLINE_DATA_DIR", str(data / "shotline-data"))
        get_settings.cache_clear()
        ctx = RunContext.create("local", get_settings())
        ctx.settings.poll_interval_s = 0.01
        ctx.settings.backoff_base_s = 0.01
        line = {"audio": "dialogue", "dialogue": DIALOGUE}
        board = tiny_board(shot("a"), shot("b", transition="crossfade:0.25", **line), shot("c"))
        out = data / "out" / "film.mp4"
        job_id = create_job(ctx, board, output=out)
        assert EmbeddedEngine(ctx).run(job_id) == "delivered"
        report = job_report(ctx.db_url, job_id)
    get_settings.cache_clear()
    plan = EditPlan.from_json(out.with_name("film.plan.json").read_text())
    return report, plan, out


def test_captions_carry_the_dialogue_where_the_shot_speaks(delivered):
    """The pipeline hands the storyboard's dialogue to the stitcher: one cue, inside shot b's span
    on the programme (after the crossfade into it began, before it ends)."""
    _, plan, out = delivered
    subs = pysubs2.load(str(out.with_suffix(".srt")))
    [cue] = list(subs)
    assert cue.plaintext == DIALOGUE
    b = next(s for s in plan.shots if s.shot_id == "b")
    start_ms = b.sample_in * 1000 / plan.profile.sample_rate
    assert start_ms - 1 <= cue.start < cue.end <= start_ms + 1000 + 1
    vtt = pysubs2.load(str(out.with_suffix(".vtt")))
    assert [(c.start, c.end, c.plaintext) for c in vtt] == [(cue.start, cue.end, DIALOGUE)]
    edit = otio.adapters.read_from_file(str(out.with_suffix(".otio")))
    [marker] = list(edit.tracks.markers)  # the caption, spanning the cue on the programme
    assert marker.name == DIALOGUE
    rate = float(plan.profile.rate)
    assert abs(marker.marked_range.start_time.to_seconds() * 1000 - cue.start) <= 1000 / rate
    assert (
        abs(marker.marked_range.end_time_exclusive().to_seconds() * 1000 - cue.end) <= 1000 / rate
    )


def _local(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def test_report_lists_the_edit_files(delivered):
    report, _, out = delivered
    files = report["files"]
    expected = {"otio": "film.otio", "fcpxml": "film.fcpxml", "edl": "film.edl"}
    assert {fmt: Path(files[fmt]).name for fmt in expected} == expected
    assert Path(files["video"]) == out
    assert {"plan", "poster", "contact_sheet"} <= set(files)


def test_plan_is_three_shots_with_one_crossfade(delivered):
    _, plan, out = delivered
    assert [(s.shot_id, s.frames, s.transition_frames) for s in plan.shots] == [
        ("a", 24, 0),
        ("b", 24, 6),
        ("c", 24, 0),
    ]
    assert count_frames(out) == plan.total_frames == 66


def test_otio_reads_back_as_the_plan_and_names_real_segments(delivered):
    _, plan, out = delivered
    timeline = otio.adapters.read_from_file(str(out.with_suffix(".otio")))
    check_otio(timeline, plan)
    for clip in timeline.tracks[0].find_clips():
        segment = _local(clip.media_reference.target_url)
        assert count_frames(segment) == clip.media_reference.available_range.duration.value
        assert Path(clip.metadata["shotline"]["source_clip"]).is_file()
    joins = [item for item in timeline.tracks[0] if isinstance(item, otio.schema.Transition)]
    assert [(j.name, j.in_offset.value, j.out_offset.value) for j in joins] == [
        ("Cross Dissolve", 3, 3)
    ]


def test_edl_reads_back_as_the_plan(delivered):
    _, plan, out = delivered
    text = out.with_suffix(".edl").read_text()
    check_edl(text, plan)
    track = otio.adapters.read_from_file(str(out.with_suffix(".edl")), rate=24).tracks[0]
    clips = list(track.find_clips())
    starts = [track.range_of_child(clip).start_time.value for clip in clips]
    assert [clip.name for clip in clips] == ["a", "b", "c"]
    assert starts == [0, 18, 42]
    assert [Path(clip.media_reference.target_url).is_file() for clip in clips] == [True] * 3
    joins = [item for item in track if isinstance(item, otio.schema.Transition)]
    assert [(j.transition_type, j.out_offset.value) for j in joins] == [("SMPTE_Dissolve", 6)]


def test_fcpxml_reads_back_as_the_plan(delivered):
    _, plan, out = delivered
    sequence = check_fcpxml(out.with_suffix(".fcpxml").read_text(), plan)
    items = sequence.iterfind("spine/*")
    spine = [(item.tag, item.get("offset"), item.get("duration")) for item in items]
    assert spine == [
        ("asset-clip", "0s", "21/24s"),
        ("transition", "18/24s", "6/24s"),
        ("asset-clip", "21/24s", "21/24s"),
        ("asset-clip", "42/24s", "24/24s"),
    ]
