from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from foundation.storyboard import Transition, parse_storyboard
from foundation.timeline import exact_rate
from stitching import EditPlan, OutputProfile, PlanError, Segment, plan_edit
from stitching.pieces import CopyPiece, WindowPiece
from stitching.verify import timing
from stitching.video import full_argv, plan_pieces, windows_argv

PROFILE = OutputProfile(160, 90, 24)


def fake_segment(
    frames: int, keyframes: tuple[int, ...] = (0,), profile: OutputProfile = PROFILE
) -> Segment:
    return Segment(
        path=Path(f"/nowhere/{frames}.mp4"), audio_path=Path(f"/nowhere/{frames}.f32"),
        frames=frames, samples=profile.samples_for(frames), width=profile.width,
        height=profile.height, fps=str(profile.rate), codec="h264", codec_profile="High",
        pix_fmt="yuv420p", sar="1", time_base="1/24000", extradata_sha="x", audio_codec="aac",
        audio_rate=48000, audio_layout="stereo", keyframes=keyframes,
    )  # fmt: skip


class TestRate:
    @pytest.mark.parametrize(
        ("given", "exact"),
        [(24, Fraction(24)), (29.97, Fraction(30000, 1001)), (23.976, Fraction(24000, 1001)),
         ("25/1", Fraction(25)), (12.5, Fraction(25, 2))],
    )  # fmt: skip
    def test_exact_rates(self, given, exact):
        assert exact_rate(given) == exact

    def test_frames_and_samples(self):
        profile = OutputProfile(1280, 720, 30000 / 1001)
        assert profile.frames_for(5) == 150
        assert profile.samples_for(150) == 240240
        assert profile.timescale % profile.rate.numerator == 0
        assert profile.frame_ticks * profile.rate == profile.timescale

    def test_round_trip(self):
        profile = OutputProfile(640, 360, 29.97, loudness_lufs=-14)
        assert OutputProfile.from_dict(profile.to_dict()) == profile

    def test_odd_size_refused(self):
        with pytest.raises(ValueError, match="even"):
            OutputProfile(161, 90, 24)


class TestPlan:
    def test_total_matches_storyboard(self):
        board = parse_storyboard({
            "title": "t", "output": {"size": "160x90", "fps": 24},
            "scenes": [{"id": "s", "shots": [
                {"id": "a", "prompt": "p", "duration": 2.0, "transition": "fade:0.5"},
                {"id": "b", "prompt": "p", "duration": 3.0, "transition": "crossfade:0.5"},
                {"id": "c", "prompt": "p", "duration": 2.5, "transition": "cut"},
                {"id": "d", "prompt": "p", "duration": 2.0, "transition": "wipe:0.25"},
            ]}],
        })  # fmt: skip
        items = [
            (shot.id, fake_segment(PROFILE.frames_for(shot.duration)), shot.transition_in)
            for _, shot in board.shots()
        ]
        plan = plan_edit(items, PROFILE)
        assert plan.total_frames == round(board.planned_seconds() * 24) == 210
        assert [s.timeline_in for s in plan.shots] == [0, 36, 108, 162]
        assert plan.total_samples == 210 * 2000
        assert [s.sample_in for s in plan.shots] == [0, 72000, 216000, 324000]

    def test_json_round_trip(self):
        items = [("a", fake_segment(48), Transition.parse("cut")),
                 ("b", fake_segment(48), Transition.parse("crossfade:0.5"))]  # fmt: skip
        plan = plan_edit(items, PROFILE)
        again = EditPlan.from_json(plan.to_json())
        assert again == plan
        assert again.to_dict()["shots"][1]["timeline_in"] == 36

    def test_first_shot_cannot_wipe(self):
        with pytest.raises(PlanError, match="first shot"):
            plan_edit([("a", fake_segment(24), Transition.parse("wipe:0.5"))], PROFILE)

    def test_transitions_must_fit(self):
        items = [("a", fake_segment(48), Transition.parse("cut")),
                 ("b", fake_segment(20), Transition.parse("crossfade:0.5")),
                 ("c", fake_segment(48), Transition.parse("crossfade:0.5"))]  # fmt: skip
        with pytest.raises(PlanError, match="do not fit"):
            plan_edit(items, PROFILE)

    def test_segment_must_match_profile(self):
        other = fake_segment(24, profile=OutputProfile(320, 180, 24))
        with pytest.raises(PlanError, match="normalise it first"):
            plan_edit([("a", other, Transition.parse("cut"))], PROFILE)

    def test_tampered_json_refused(self):
        plan = plan_edit([("a", fake_segment(24), Transition.parse("cut"))], PROFILE)
        text = plan.to_json().replace('"total_frames": 24', '"total_frames": 25')
        with pytest.raises(PlanError, match="25 frames"):
            EditPlan.from_json(text)


class TestPieces:
    def test_hinted_keyframes_make_exact_windows(self):
        items = [("a", fake_segment(48, (0, 36)), Transition.parse("cut")),
                 ("b", fake_segment(48, (0, 12, 36)), Transition.parse("crossfade:0.5")),
                 ("c", fake_segment(48, (0, 12)), Transition.parse("fade:0.5"))]  # fmt: skip
        pieces = plan_pieces(plan_edit(items, PROFILE))
        assert pieces == [
            CopyPiece(0, 0, 36), WindowPiece(1, 36, 12, 12, 48), CopyPiece(1, 12, 36),
            WindowPiece(2, 36, 12, 12, 48), CopyPiece(2, 12, 48),
        ]  # fmt: skip
        assert sum(p.frames for p in pieces) == 48 * 3 - 24

    def test_unhinted_windows_grow_to_keyframes(self):
        items = [("a", fake_segment(48, (0, 24)), Transition.parse("cut")),
                 ("b", fake_segment(48, (0, 24)), Transition.parse("crossfade:0.5"))]  # fmt: skip
        pieces = plan_pieces(plan_edit(items, PROFILE))
        assert pieces == [CopyPiece(0, 0, 24), WindowPiece(1, 24, 24, 12, 48), CopyPiece(1, 24, 48)]
        assert pieces[1].frames == 36

    def test_windows_sharing_a_gop_are_refused(self):
        items = [("a", fake_segment(48), Transition.parse("cut")),
                 ("b", fake_segment(30), Transition.parse("crossfade:0.25")),
                 ("c", fake_segment(48), Transition.parse("crossfade:0.25"))]  # fmt: skip
        with pytest.raises(PlanError, match="overlap"):
            plan_pieces(plan_edit(items, PROFILE))

    def test_first_shot_fade_in_is_a_window(self):
        plan = plan_edit([("a", fake_segment(48, (0, 12)), Transition.parse("fade:0.5"))], PROFILE)
        assert plan_pieces(plan) == [WindowPiece(0, 0, 12, 0, 0), CopyPiece(0, 12, 48)]

    def test_replace_keeps_frozen(self):
        seg = fake_segment(24)
        assert replace(seg, tail_black=2).tail_black == 2


class TestArgv:
    def _plan(self):
        items = [("a", fake_segment(48, (0, 24, 36)), Transition.parse("fade:0.25")),
                 ("b", fake_segment(48, (0, 12, 36)), Transition.parse("crossfade:0.5")),
                 ("c", fake_segment(48, (0, 12)), Transition.parse("wipe:0.5"))]  # fmt: skip
        return plan_edit(items, PROFILE)

    def test_windows_are_one_encode_with_keyframes_at_each_window(self, tmp_path):
        plan = self._plan()
        windows = [p for p in plan_pieces(plan) if isinstance(p, WindowPiece)]
        argv = windows_argv(plan, windows, tmp_path / "w.mp4")
        graph = argv[argv.index("-filter_complex") + 1]
        assert "fade=nb_frames=6:start_frame=0:t=in" in graph
        assert "overlay=format=yuv420:shortest=1" in graph  # the crossfade (stitching/blend.py)
        assert "fade=alpha=1:nb_frames=12:start_frame=0:t=in" in graph
        assert "transition=wipeleft" in graph
        assert "concat=a=0:n=3:v=1" in graph
        assert argv[argv.index("-frames:v") + 1] == str(sum(w.frames for w in windows))
        assert "expr:eq(n,0)+eq(n,24)+eq(n,36)" in argv
        assert argv.count("-ss") == 2

    def test_full_reencode_is_the_pieces_with_windows_exactly_the_overlaps(self, tmp_path):
        plan = self._plan()
        assert plan_pieces(plan, exact=True) == [
            WindowPiece(0, 0, 6, 0, 0), CopyPiece(0, 6, 36),
            WindowPiece(1, 36, 12, 12, 48), CopyPiece(1, 12, 36),
            WindowPiece(2, 36, 12, 12, 48), CopyPiece(2, 12, 48),
        ]  # fmt: skip
        argv = full_argv(plan, tmp_path / "f.mp4")
        graph = argv[argv.index("-filter_complex") + 1]
        assert "concat=a=0:n=6:v=1" in graph
        assert graph.count("overlay=") == 1
        assert "transition=wipeleft" in graph
        assert argv[argv.index("-frames:v") + 1] == "120"
        seeks = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-ss"]
        assert seeks == ["0.229167", "1.479167", "0.479167", "1.479167", "0.479167"]


class TestDurationCheck:
    """The output's frame count must be the plan's: the verification tolerated one frame either
    way, so a programme a frame short (a transition window rendered one frame short, say) was
    delivered as verified."""

    def _measured(self, plan: EditPlan, frames: int) -> dict[str, float]:
        seconds = frames / float(plan.profile.rate)
        return {"frames": frames, "video_s": seconds, "audio_s": seconds}

    def test_the_planned_frames_pass_and_one_more_or_less_fails(self):
        plan = plan_edit(
            [("a", fake_segment(24), Transition.parse("cut")),
             ("b", fake_segment(36), Transition.parse("crossfade:0.5"))],
            PROFILE,
        )  # fmt: skip
        assert plan.total_frames == 48
        assert timing(plan, self._measured(plan, 48))[0]["passed"]
        for frames in (47, 49):
            duration, _ = timing(plan, self._measured(plan, frames))
            assert not duration["passed"], frames
            assert (duration["video_frames"], duration["planned_frames"]) == (frames, 48)
