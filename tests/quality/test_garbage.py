"""A provider's answer declaring far more than was asked is refused from its header, and no clip
is decoded past what the gate could use (``quality.gate.too_much``, ``analyse(stop_s=)``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from media.probe import probe
from quality.analysis import analyse
from quality.expectation import ClipExpectation
from quality.gate import evaluate, longest_decoded
from quality.policy import default_policy

ASKED = ClipExpectation(duration_s=2, width=64, height=64, fps=10, audio="none")


def _gray(make_clip: Callable[..., Path], name: str, size: str, seconds: float) -> Path:
    return make_clip(name, "-f", "lavfi", "-i", f"color=c=gray:s={size}:r=10:d={seconds}")


def test_an_answer_far_longer_than_asked_is_retried_undecoded(make_clip: Callable[..., Path]):
    clip = _gray(make_clip, "eighty-seconds", "64x64", 80)  # 2 s asked: 68 s decoded at most
    assert longest_decoded(ASKED) == 68.0
    verdict = evaluate(clip, ASKED)
    assert verdict.action == "retry"
    assert [(f.code, f.message) for f in verdict.findings] == [
        ("undecodable", "file cannot be decoded: it declares 80.0 s for 2 s asked (not decoded)")
    ]


def test_an_answer_with_more_pixels_a_frame_than_any_output_is_not_decoded(
    make_clip: Callable[..., Path],
):
    clip = _gray(make_clip, "over-8k", "8192x4352", 0.1)
    verdict = evaluate(clip, ASKED)
    assert [f.message for f in verdict.findings] == [
        "file cannot be decoded: it declares 8192x4352 pixels a frame, over 33,177,600 "
        "(not decoded)"
    ]


def test_a_longer_answer_within_the_bound_is_decoded_and_trimmed(make_clip: Callable[..., Path]):
    clip = _gray(make_clip, "ten-seconds", "64x64", 10)
    verdict = evaluate(clip, ASKED)
    assert "undecodable" not in {f.code for f in verdict.findings}
    assert verdict.metrics["frames"] >= 99


def test_decoding_stops_past_stop_s_whatever_the_header_says(make_clip: Callable[..., Path]):
    clip = _gray(make_clip, "three-seconds", "64x64", 3)
    detectors = default_policy().detectors
    whole = analyse(clip, probe(clip), detectors)
    part = analyse(clip, probe(clip), detectors, stop_s=1.0)
    assert whole.video is not None
    assert part.video is not None
    assert whole.video.times.size == 30
    assert 10 <= part.video.times.size <= 12


def test_a_clip_whose_timestamps_start_hours_in_is_decoded(make_clip: Callable[..., Path]):
    """The bound counts from the clip's first timestamp, not from zero: a valid clip starting 10
    hours in was "undecodable: no video frame could be decoded" and retried."""
    source = ["-f", "lavfi", "-i", "testsrc2=s=64x64:r=10:d=2"]
    clip = make_clip("ten-hours-in", *source, "-output_ts_offset", "36000")
    assert probe(clip).duration_s < 3
    verdict = evaluate(clip, ASKED)
    assert "undecodable" not in {f.code for f in verdict.findings}
    assert verdict.metrics["frames"] == 20
