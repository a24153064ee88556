"""Assembly end to end on tiny clips; every output is re-measured by the verifier and by hand."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import opentimelineio as otio
import pytest

from media.frames import gray_frames
from media.probe import probe
from media.runner import run_ffmpeg
from stitching import EditPlan, MusicBed, VerificationError, assemble, plan_edit, verify
from stitching import assembly as assemble_mod
from stitching.edges import mad
from stitching.loudness import measure_file
from stitching.meter import blocks_path
from stitching.pieces import WindowPiece
from stitching.sheet import label_strip
from stitching.verify import check_same_video
from stitching.video import full_argv, plan_pieces
from tests.stitching.conftest import PROFILE, make_clip, normalise_all
from tests.stitching.interchange_checks import check_otio


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


def _audio_samples(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        chunks = [f.to_ndarray() for f in container.decode(audio=0)]
    return np.concatenate(chunks, axis=1)


def test_hard_cuts_are_stream_copied(shots, tmp_path):
    items = normalise_all(shots, ["cut", "cut", "cut"], tmp_path / "seg")
    result = assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")
    checks = result.verification["checks"]
    assert result.verification["passed"]
    assert result.video_path == "copy"
    assert checks["duration"]["video_frames"] == 90
    assert [c["frame"] for c in checks["cuts"]["joins"]] == [30, 60]
    output = _packets(result.path)
    assert output == [p for _, seg, _ in items for p in _packets(seg.path)]
    samples = _audio_samples(result.path)
    assert samples.shape[0] == 2
    assert abs(samples.shape[1] - 90 * 2000) <= 1024


@pytest.mark.parametrize("kind", ["crossfade:0.25", "fade:0.25", "wipe:0.25"])
def test_transition_windows_match_a_full_reencode(kind, shots, tmp_path):
    items = normalise_all(shots, ["cut", kind, kind], tmp_path / "seg")
    plan = plan_edit(items, PROFILE)
    result = assemble(plan, tmp_path / "out.mp4")
    assert result.verification["passed"], result.verification
    assert result.video_path == "copy"
    assert result.verification["checks"]["duration"]["video_frames"] == 90 - 12
    reference = tmp_path / "reference.mp4"
    run_ffmpeg(full_argv(plan, reference))
    indices = range(plan.total_frames)
    ours = gray_frames(result.path, indices, PROFILE.rate)
    theirs = gray_frames(reference, indices, PROFILE.rate)
    assert len(ours) == len(theirs) == plan.total_frames
    worst = max(mad(ours[i], theirs[i]) for i in indices)
    assert worst < 4.0


def test_windows_without_keyframe_hints_still_copy(shots, tmp_path):
    short_gop = replace(PROFILE, gop_seconds=0.5)
    items = normalise_all(
        shots, ["cut", "crossfade:0.25", "cut"], tmp_path / "seg", 36, False, short_gop
    )
    assert items[1][1].keyframes == (0, 12, 24, 32)  # GOP + verify window start, no hints
    result = assemble(plan_edit(items, short_gop), tmp_path / "out.mp4")
    assert result.verification["passed"], result.verification
    assert result.video_path == "copy"
    assert result.verification["checks"]["duration"]["video_frames"] == 36 * 3 - 6


def test_first_shot_fades_in_from_black(shots, tmp_path):
    items = normalise_all(shots[:2], ["fade:0.5", "cut"], tmp_path / "seg")
    result = assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")
    assert result.verification["passed"], result.verification
    first = gray_frames(result.path, [0, 11, 12], PROFILE.rate)
    assert first[0].mean() < first[11].mean() <= first[12].mean() + 2


def test_mismatched_segments_are_reencoded(shots, tmp_path):
    items = normalise_all(shots[:2], ["cut", "cut"], tmp_path / "seg")
    odd = replace(PROFILE, preset="ultrafast")
    from stitching import normalise

    other = normalise(shots[2], odd, 30, tmp_path / "seg" / "odd.mp4")
    plan = plan_edit([*items, ("odd", other, items[1][2])], PROFILE)
    assert assemble_mod.copy_mismatches([s.segment for s in plan.shots])
    result = assemble(plan, tmp_path / "out.mp4")
    assert result.video_path == "reencode"
    assert result.verification["passed"], result.verification


def test_outputs_beside_the_file(shots, tmp_path):
    items = normalise_all(shots, ["cut", "crossfade:0.25", "cut"], tmp_path / "seg")
    result = assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4", hls=True)
    assert result.plan_path == tmp_path / "out.plan.json"
    assert EditPlan.from_json(result.plan_path.read_text()) == result.plan
    poster, sheet = cv2.imread(str(result.poster)), cv2.imread(str(result.contact_sheet))
    assert poster is not None
    assert sheet is not None
    assert poster.shape == (90, 160, 3)
    assert sheet.shape == (90 + label_strip("x", 160).shape[0], 3 * 160, 3)
    assert result.hls is not None
    playlist = result.hls.read_text()
    assert "#EXT-X-ENDLIST" in playlist
    assert "seg_000.m4s" in playlist
    assert {fmt: path.name for fmt, path in result.edit_files.items()} == {
        "otio": "out.otio", "fcpxml": "out.fcpxml", "edl": "out.edl"
    }  # fmt: skip
    check_otio(otio.adapters.read_from_file(str(result.edit_files["otio"])), result.plan)


def test_loudness_reaches_target_with_limiting(media, tmp_path):
    clicks = "aevalsrc='if(lt(mod(t,0.25),0.004),0.9,0.02*sin(2*PI*300*t))':s=48000"
    spiky = make_clip(media / "clicks.mp4", "testsrc2=s=160x90:r=24", clicks)
    quiet = make_clip(
        media / "quiet.mp4", "smptebars=s=160x90:r=24", "aevalsrc='0.01*sin(2*PI*300*t)':s=48000"
    )
    items = normalise_all([spiky, quiet], ["cut", "cut"], tmp_path / "seg")
    result = assemble(plan_edit(items, replace(PROFILE, loudness_lufs=-12.0)), tmp_path / "out.mp4")
    loudness = result.verification["checks"]["loudness"]
    assert result.verification["render"]["limited"] is True
    assert abs(loudness["integrated_lufs"] + 12.0) <= 1.0
    assert loudness["true_peak_db"] <= -1.0


def test_silent_programme(media, tmp_path):
    mute = [make_clip(media / f"mute{i}.mp4", src, None) for i, src in
            enumerate(["testsrc2=s=160x90:r=24", "smptebars=s=160x90:r=24"])]  # fmt: skip
    items = normalise_all(mute, ["cut", "cut"], tmp_path / "seg")
    result = assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")
    assert "silent" in result.verification["checks"]["loudness"]["note"]
    assert np.abs(_audio_samples(result.path)).max() == 0


def test_music_bed_is_ducked_under_sound(media, tmp_path):
    talk = make_clip(media / "talk.mp4", "testsrc2=s=160x90:r=24", "sine=f=1000:r=48000")
    mute = make_clip(media / "mute_b.mp4", "smptebars=s=160x90:r=24", None)
    music = make_clip(media / "music.m4a", "color=black:s=16x16:r=1", None, seconds=0.7,
                      encode=("-f", "lavfi", "-i", "sine=f=200:r=48000", "-map", "1:a"))  # fmt: skip
    items = normalise_all([talk, mute], ["cut", "cut"], tmp_path / "seg")
    plan = plan_edit(items, PROFILE, music=MusicBed(music, gain_db=-12.0, duck_db=-18.0))
    result = assemble(plan, tmp_path / "out.mp4")
    assert result.verification["passed"], result.verification
    samples = _audio_samples(result.path)[0]
    talk_part = np.abs(np.fft.rfft(samples[12000:48000]))
    mute_part = np.abs(np.fft.rfft(samples[72000:108000]))
    bin_200 = 200 * 36000 // 48000
    assert mute_part[bin_200] > 4 * talk_part[bin_200]
    timeline = otio.adapters.read_from_file(str(result.edit_files["otio"]))
    check_otio(timeline, plan)
    loops = [clip.source_range.duration.value for clip in timeline.tracks[2]]
    assert sum(loops) == plan.total_frames
    assert len(set(loops[:-1])) == 1
    assert 0.7 * 24 - 1 < loops[0] <= (probe(music).audio_duration_s or 0) * 24


def test_shifted_join_fails_verification(shots, tmp_path):
    items = normalise_all(shots, ["cut", "cut", "cut"], tmp_path / "seg")
    result = assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")
    longer = normalise_all(shots, ["cut", "cut", "cut"], tmp_path / "seg2", frames=33)
    wrong = plan_edit([longer[0], items[1], items[2]], PROFILE)
    verification = verify(wrong, result.path)
    checks = verification["checks"]
    assert not verification["passed"]
    assert not checks["duration"]["passed"]
    assert checks["duration"]["video_frames"] == 90
    assert checks["duration"]["planned_frames"] == 93
    assert [c["detected"] for c in checks["cuts"]["joins"]] == [False, False]
    assert not checks["cuts"]["passed"]


def test_black_introduced_at_a_join_is_reported(media, tmp_path):
    tail_black = make_clip(media / "tail_black.mp4", "testsrc2=s=160x90:r=24", None,
                           vf="drawbox=enable='gte(t,1)':color=black:t=fill")  # fmt: skip
    mute = make_clip(media / "mute_b.mp4", "smptebars=s=160x90:r=24", None)
    items = normalise_all([tail_black, mute], ["cut", "cut"], tmp_path / "seg")
    plan = plan_edit(items, PROFILE)
    result = assemble(plan, tmp_path / "out.mp4")
    assert result.verification["checks"]["joins_clean"]["passed"]
    lying = replace(plan.shots[0].segment, tail_black=0)
    blind = plan_edit([("s0", lying, items[0][2]), items[1]], PROFILE)
    clean = verify(blind, result.path)["checks"]["joins_clean"]
    assert not clean["passed"]
    assert clean["joins"][0]["black_run"] >= 2


def test_assemble_raises_with_measured_numbers(shots, tmp_path, monkeypatch):
    items = normalise_all(shots[:2], ["cut", "cut"], tmp_path / "seg")
    real_mux = assemble_mod.mux
    monkeypatch.setattr(
        assemble_mod,
        "mux",
        lambda plan, files, audio, out, read=None: real_mux(plan, files[:1], audio, out, read),
    )
    with pytest.raises(VerificationError, match="duration") as caught:
        assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")
    duration: Any = caught.value.verification["checks"]
    assert duration["duration"]["video_frames"] == 30
    assert "'planned_frames': 60" in str(caught.value)
    assert json.loads((tmp_path / "out.plan.json").read_text())["total_frames"] == 60


def test_replaced_segment_file_is_caught_by_the_probe(shots, tmp_path):
    items = normalise_all(shots[:2], ["cut", "cut"], tmp_path / "seg")
    segments = [seg for _, seg, _ in items]
    assert assemble_mod.copy_mismatches(segments) == []
    from stitching import normalise

    normalise(shots[0], replace(PROFILE, preset="ultrafast"), 30, segments[1].path)
    problems = assemble_mod.copy_mismatches(segments)
    assert any("extradata_sha" in p and "recorded" in p for p in problems)


def test_final_file_carries_exactly_the_verified_video(shots, tmp_path):
    items = normalise_all(shots[:2], ["cut", "cut"], tmp_path / "seg")
    result = assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")
    same = result.verification["checks"]["video_packets"]
    assert same == {"packets": 60, "reference_packets": 60, "differing": 0, "passed": True}
    other = check_same_video(result.path, items[0][1].path)
    assert not other["passed"]
    assert other["differing"] >= 30


def test_single_shot(shots, tmp_path):
    items = normalise_all(shots[:1], ["cut"], tmp_path / "seg")
    result = assemble(plan_edit(items, PROFILE), tmp_path / "one.mp4")
    assert result.verification["passed"]
    assert result.verification["checks"]["cuts"]["joins"] == []
    assert _packets(result.path) == _packets(items[0][1].path)


def _audio_packets(path: Path) -> list[tuple[int, bytes]]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [(round(p.pts * p.time_base * 48000), bytes(p)) for p in container.demux(stream)
                if p.size and p.pts is not None]  # fmt: skip


def test_final_audio_is_copied_and_only_joins_are_encoded(shots, tmp_path):
    items = normalise_all(shots, ["cut", "crossfade:0.25", "cut"], tmp_path / "seg")
    plan = plan_edit(items, PROFILE)
    result = assemble(plan, tmp_path / "out.mp4")
    render = result.verification["render"]
    assert result.verification["passed"], result.verification
    assert render["audio_path"] == "copy"
    assert render["copied_shots"] == 3
    assert render["encoded_samples"] < plan.total_samples / 2
    output = dict(_audio_packets(result.path))
    copied = 0
    for shot in plan.shots:
        for at, data in _audio_packets(shot.segment.path):
            copied += output.get(at + shot.sample_in) == data
    assert copied >= (plan.total_samples - render["encoded_samples"]) // 1024 - 1
    # the spliced programme sounds like the lossless mix: no click or gap at any join
    from stitching.audio import mix

    reference = mix(plan)[:, 0]
    decoded = _audio_samples(result.path)[0][: len(reference)]
    error = np.sqrt(np.mean((decoded - reference) ** 2)) / np.sqrt(np.mean(reference**2))
    assert error < 0.05


def test_each_shot_is_brought_to_the_target_on_arrival(media, tmp_path):
    loud = make_clip(media / "loud.mp4", "testsrc2=s=160x90:r=24",
                     "aevalsrc='0.7*sin(2*PI*500*t)':s=48000")  # fmt: skip
    soft = make_clip(media / "soft.mp4", "smptebars=s=160x90:r=24",
                     "aevalsrc='0.1*sin(2*PI*700*t)':s=48000")  # fmt: skip
    items = normalise_all([loud, soft], ["cut", "cut"], tmp_path / "seg")
    for _, segment, _ in items:
        assert segment.final_lufs is not None
        assert abs(segment.final_lufs - PROFILE.loudness_lufs) < 0.5
    assert items[0][1].gain_db < -5 < 5 < items[1][1].gain_db
    result = assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")
    assert result.verification["render"]["audio_path"] == "copy"
    assert abs(result.verification["checks"]["loudness"]["integrated_lufs"] + 16) <= 0.5


def test_room_tone_is_not_pumped_up_and_the_programme_is_encoded_instead(media, tmp_path):
    hiss = make_clip(media / "hiss.mp4", "testsrc2=s=160x90:r=24",
                     "aevalsrc='0.002*(2*random(0)-1)':s=48000")  # fmt: skip
    items = normalise_all([hiss, hiss], ["cut", "cut"], tmp_path / "seg")
    assert items[0][1].gain_db == PROFILE.max_shot_gain_db
    result = assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")
    render = result.verification["render"]
    assert render["audio_path"] == "encode"
    assert "LUFS" in render["reason"]
    assert abs(result.verification["checks"]["loudness"]["integrated_lufs"] + 16) <= 1.0


def test_segments_placed_off_their_grid_are_encoded_around(shots, tmp_path):
    """Segments normalised for another timeline still assemble; their audio is re-encoded."""
    items = normalise_all(shots, ["cut", "cut", "cut"], tmp_path / "seg", hints=False)
    result = assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")
    assert result.verification["passed"], result.verification
    assert result.verification["render"]["copied_shots"] == 1  # 30 frames = 60000 samples


def test_a_segment_changed_after_normalising_is_refused(shots, tmp_path):
    from stitching import PlanError, normalise

    items = normalise_all(shots[:2], ["cut", "cut"], tmp_path / "seg")
    other = tmp_path / "other.mp4"
    normalise(shots[2], PROFILE, 30, other)
    items[1][1].path.write_bytes(other.read_bytes())
    with pytest.raises(PlanError, match="differs from the segment that was normalised"):
        assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")


def test_joins_measured_from_saved_proxies_match_a_decode_of_the_output(shots, tmp_path):
    items = normalise_all(shots, ["cut", "cut", "cut"], tmp_path / "seg")
    plan = plan_edit(items, PROFILE)
    result = assemble(plan, tmp_path / "out.mp4")
    decoded = verify(plan, result.path)["checks"]
    for name in ("cuts", "joins_clean"):
        assert result.verification["checks"][name] == decoded[name]


def test_windows_rendered_ahead_are_only_copied_at_assembly(shots, tmp_path, monkeypatch):
    from stitching import prerender, windows

    items = normalise_all(shots, ["fade:0.25", "crossfade:0.25", "wipe:0.25"], tmp_path / "seg")
    rendered = prerender(PROFILE, items[:2], tmp_path, starts_edit=True)
    rendered += prerender(PROFILE, items[1:], tmp_path, starts_edit=False)
    assert len(rendered) == 3  # fade in, and the windows into s1 and s2

    def no_render(*args: object) -> None:
        raise AssertionError("a window was rendered again")

    monkeypatch.setattr(windows, "_render", no_render)
    result = assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")
    assert result.verification["passed"], result.verification
    assert result.video_path == "copy"


def test_windows_made_while_normalising_the_last_shot(shots, tmp_path, monkeypatch):
    from foundation.storyboard import Transition
    from stitching import normalise, normalise_between, windows
    from stitching.assembly import keyframe_hints, sample_offsets

    kinds = ["cut", "crossfade:0.25", "fade:0.25"]
    transitions = [Transition.parse(k) for k in kinds]
    hints = keyframe_hints(transitions, [30] * 3, PROFILE)
    offsets = sample_offsets(transitions, [30] * 3, PROFILE)
    (tmp_path / "seg").mkdir()
    items = [
        (f"s{i}", normalise(shots[i], PROFILE, 30, tmp_path / "seg" / f"s{i}.mp4",
                            head_frames=hints[i][0], tail_frames=hints[i][1],
                            sample_offset=offsets[i]), transitions[i])
        for i in range(2)
    ]  # fmt: skip
    windows.prerender(PROFILE, items, tmp_path, starts_edit=True)
    last = normalise_between(shots[2], PROFILE, 30, tmp_path / "seg" / "s2.mp4", hints=hints[2],
                             sample_offset=offsets[2], before=(items[1][1], transitions[2]))  # fmt: skip
    plan = plan_edit([*items, ("s2", last, transitions[2])], PROFILE)
    into_last = [p for p in plan_pieces(plan) if isinstance(p, WindowPiece)][-1]
    made = windows.window_path(plan, into_last)
    assert made is not None
    assert made.is_file()

    def no_render(*args: object) -> None:
        raise AssertionError("a window was rendered again")

    monkeypatch.setattr(windows, "_render", no_render)
    result = assemble(plan, tmp_path / "out.mp4")
    assert result.verification["passed"], result.verification
    reference = tmp_path / "reference.mp4"
    run_ffmpeg(full_argv(plan, reference))
    indices = range(plan.total_frames)
    ours = gray_frames(result.path, indices, PROFILE.rate)
    theirs = gray_frames(reference, indices, PROFILE.rate)
    assert max(mad(ours[i], theirs[i]) for i in indices) < 4.0


def test_a_fade_through_black_is_a_clean_join(tmp_path):
    """The dip of a fade holds identical black frames: that is the fade, not a frozen picture (a
    fade between two shots whose pictures never stand still failed verification after both shots
    were paid for)."""
    moving = "noise=alls=40:allf=t+u"  # every source frame differs: no frozen run of its own
    clips = [
        make_clip(tmp_path / f"{name}.mp4", f"{source}=s=160x90:r=24", vf=moving)
        for name, source in (("a", "testsrc2"), ("b", "smptebars"))
    ]
    items = normalise_all(clips, ["cut", "fade:1.0"], tmp_path / "seg", frames=36)
    result = assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")
    join = result.verification["checks"]["joins_clean"]["joins"][0]
    assert join["source_frozen_run"] == 0, join
    assert join["frozen_run"] >= 3, join
    assert join["clean"], join
    assert result.verification["passed"], result.verification


def test_loudness_measured_while_muxing_is_the_outputs(shots, tmp_path):
    """Without the segments' own measurements, the programme's audio is measured as the video is
    muxed, and used only because the output carries the very same audio packets: it equals a
    measurement of the output."""
    items = normalise_all(shots, ["cut", "crossfade:0.25", "cut"], tmp_path / "seg")
    for _, segment, _ in items:
        blocks_path(segment.path).unlink()
    result = assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")
    loudness = result.verification["checks"]["loudness"]
    assert loudness["measured_on"] == (
        "the programme's audio measured as it was muxed: the same audio packets"
    )
    measured = measure_file(result.path)
    assert loudness["integrated_lufs"] == measured.integrated
    assert loudness["true_peak_db"] == measured.true_peak


@pytest.mark.parametrize("fps", [13.37, 59.95])
def test_a_rate_with_a_small_numerator_verifies(fps, shots, tmp_path):
    """13.37 fps is 1337/100: its frames were timed in a 1337-tick timescale, which FFmpeg's mov
    muxer doubled to 10696, so none of the file's video packets had the timestamps written and the
    verified stitch failed after every shot was paid for (found by benchmarks/explore_boards.py)."""
    profile = replace(PROFILE, fps=fps)
    items = normalise_all(shots[:2], ["cut", "crossfade:0.25"], tmp_path / "seg", 20, True, profile)
    result = assemble(plan_edit(items, profile), tmp_path / "out.mp4")
    assert result.verification["checks"]["video_packets"]["passed"], result.verification
    assert result.verification["passed"]


def test_the_output_is_put_in_place_only_once_checked(shots, tmp_path, monkeypatch):
    """The new file replaced ``OUT.mp4`` before the poster, the HLS copy and the checks read it:
    a ``kill -9`` while they ran left an unverified file where the earlier one was."""
    items = normalise_all(shots[:2], ["cut", "cut"], tmp_path / "seg")
    out = tmp_path / "out.mp4"
    out.write_bytes(b"the earlier cut")
    from stitching.written import verify_written

    seen: list[tuple[Path, bytes]] = []

    def checked(plan, path, written, loudness):
        seen.append((path, out.read_bytes()))
        return verify_written(plan, path, written, loudness)

    monkeypatch.setattr(assemble_mod, "verify_written", checked)
    result = assemble(plan_edit(items, PROFILE), out)
    [(read, at_out_meanwhile)] = seen
    assert read != out, "the checks read the new file where it was written"
    assert at_out_meanwhile == b"the earlier cut"
    assert result.verification["passed"]
    assert _packets(out) == [p for _, seg, _ in items for p in _packets(seg.path)]
