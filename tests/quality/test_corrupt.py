"""A clip with a video packet that fails to decode: the pictures from it to the next keyframe are
missing or predicted from a broken one, so the gate names that span as an error (it was a warning
and the clip was accepted with garbage to its end) and trims it off when it is the tail."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import pytest

from quality.expectation import ClipExpectation
from quality.gate import evaluate


def _asked(seconds: float) -> ClipExpectation:
    return ClipExpectation(duration_s=seconds, width=128, height=72, fps=10, audio="none")


@pytest.fixture(scope="module")
def keyframed(make_clip: Callable[..., Path]) -> Path:
    """4 s at 10 fps, a keyframe every second."""
    source = ["-f", "lavfi", "-i", "testsrc2=s=128x72:r=10:d=4"]
    return make_clip("keyframe-each-second", *source, "-g", "10")


def _broken_at(clip: Path, seconds: float, out: Path) -> Path:
    """``clip`` with the length prefix of the video packet at ``seconds`` overwritten: the
    decoder refuses that packet (invalid NAL size)."""
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        packet = next(
            p
            for p in container.demux(stream)
            if p.pts is not None and abs(float(p.pts * p.time_base) - seconds) < 1e-6
        )
        position = packet.pos
    assert position is not None
    data = bytearray(clip.read_bytes())
    data[position : position + 4] = b"\xff\xff\xff\xff"
    out.write_bytes(bytes(data))
    return out


def test_a_broken_packet_mid_clip_is_an_error_up_to_the_next_keyframe(keyframed, tmp_path):
    verdict = evaluate(_broken_at(keyframed, 1.5, tmp_path / "mid.mp4"), _asked(4))
    assert verdict.action == "retry"
    [finding] = verdict.drivers
    assert finding.code == "corrupt_video"
    assert finding.start is not None
    assert 1.0 <= finding.start <= 1.5  # a frame-threaded decoder reports it a few packets late
    assert finding.end == pytest.approx(2.0)
    assert "1 video packets failed to decode" in finding.message


def test_a_broken_packet_in_the_last_second_is_trimmed_off(keyframed, tmp_path):
    verdict = evaluate(_broken_at(keyframed, 3.5, tmp_path / "tail.mp4"), _asked(3))
    assert verdict.action == "repair"
    assert verdict.repair is not None
    assert verdict.repair[0] == 0.0
    assert 3.0 <= verdict.repair[1] <= 3.5
