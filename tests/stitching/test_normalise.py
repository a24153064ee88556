"""Every awkward input the issue lists, normalised and measured with PyAV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from foundation.variants import resolve
from media.runner import run_ffmpeg
from stitching import ClipError, normalise
from stitching.native import native_segment
from stitching.segment import normalise_argv
from tests.media.rotation import rotated_copy
from tests.stitching.conftest import PROFILE, make_clip

X265_10 = (
    "-c:v",
    "libx265",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p10le",
    "-x265-params",
    "log-level=none",
)
AWKWARD: dict[str, dict[str, Any]] = {
    "h264_mono_44k": dict(audio="sine=f=440:r=44100", encode=("-c:v", "libx264", "-preset", "ultrafast", "-ac", "1")),
    "hevc_10bit_51": dict(
        audio="sine=f=440:r=48000", encode=(*X265_10, "-c:a", "aac", "-ac", "6"), suffix=".mp4"
    ),
    "vp9_webm_22k": dict(
        audio="sine=f=440:r=22050",
        encode=("-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libvorbis"),
        suffix=".webm",
    ),
    "prores_pcm": dict(encode=("-c:v", "prores_ks", "-profile:v", "0", "-c:a", "pcm_s16le"), suffix=".mov"),
    "no_audio": dict(audio=None, encode=("-c:v", "libx264", "-preset", "ultrafast")),
    "vfr": dict(
        vf="setpts='PTS+0.02*sin(N)/TB'",
        encode=("-c:v", "libx264", "-preset", "ultrafast", "-fps_mode", "vfr"),
    ),
    "long_60fps": dict(video="testsrc2=s=160x90:r=60", seconds=2.0),
    "full_range": dict(encode=("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuvj420p")),
}  # fmt: skip


def _measure(path: Path) -> dict[str, object]:
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        frame = next(container.decode(video))
        return {
            "size": (video.codec_context.width, video.codec_context.height),
            "pix_fmt": video.codec_context.pix_fmt,
            "sar": video.sample_aspect_ratio,
            "rate": video.average_rate,
            "rotation": frame.rotation,
            "audio": (audio.codec_context.name, audio.codec_context.sample_rate, audio.codec_context.channels),
        }  # fmt: skip


@pytest.mark.parametrize("case", sorted(AWKWARD))
def test_awkward_input_is_normalised_exactly(case, media, tmp_path):
    spec: dict[str, Any] = dict(AWKWARD[case])
    suffix = str(spec.pop("suffix", ".mp4"))
    src = make_clip(media / f"awk_{case}{suffix}", **spec)
    segment = normalise(src, PROFILE, 24, tmp_path / "seg.mp4", head_frames=6, tail_frames=6)
    assert segment.frames == 24
    assert segment.samples == 48000
    assert segment.keyframes[:1] == (0,)
    assert {6, 18} <= set(segment.keyframes)
    assert segment.audio_path.stat().st_size == 48000 * 2 * 4
    measured = _measure(segment.path)
    assert measured == {
        "size": (160, 90), "pix_fmt": "yuv420p", "sar": 1, "rate": 24, "rotation": 0,
        "audio": ("aac", 48000, 2),
    }  # fmt: skip
    pcm = np.fromfile(segment.audio_path, dtype=np.float32)
    assert (np.abs(pcm).max() > 0.01) == (spec.get("audio", "sine") is not None)


def test_rotation_is_applied(media, tmp_path):
    plain = make_clip(media / "white.mp4", "color=white:s=160x90:r=24", None)
    rotated = rotated_copy(plain, media / "rotated.mp4")
    segment = normalise(rotated, PROFILE, 12, tmp_path / "rot.mp4")
    with av.open(str(segment.path)) as container:
        frame = next(container.decode(video=0))
        assert frame.rotation == 0
        luma = frame.to_ndarray(format="gray")
    # upright 90x160 picture pillarboxed in 160x90: dark sides, white middle
    assert luma[:, :40].mean() < 40
    assert luma[:, 60:100].mean() > 200
    assert luma[:, 120:].mean() < 40


def test_non_square_pixels_fill_the_frame(media, tmp_path):
    src = make_clip(media / "sar.mp4", "color=white:s=80x90:r=24", None, vf="setsar=2/1")
    segment = normalise(src, PROFILE, 12, tmp_path / "sar.mp4")
    with av.open(str(segment.path)) as container:
        luma = next(container.decode(video=0)).to_ndarray(format="gray")
    assert luma[:, :20].mean() > 200
    assert luma[:, -20:].mean() > 200


def test_slightly_short_clip_holds_last_frame(media, tmp_path):
    src = make_clip(media / "one_sec.mp4", seconds=1.0)
    segment = normalise(src, PROFILE, 26, tmp_path / "held.mp4")
    assert segment.frames == 26
    assert segment.held_frames == 2


@pytest.mark.empty_data_dir
def test_much_shorter_clip_names_the_shortfall(media, tmp_path):
    src = make_clip(media / "one_sec_b.mp4", seconds=1.0)
    with pytest.raises(ClipError, match=r"12 frames \(0\.500 s\) short"):
        normalise(src, PROFILE, 36, tmp_path / "short.mp4")
    assert not list(tmp_path.iterdir())


def test_unreadable_clip(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(ClipError, match="not a usable video"):
        normalise(bad, PROFILE, 12, tmp_path / "out.mp4")


def test_argv_is_pure_and_complete(tmp_path):
    argv = normalise_argv(
        Path("in.mp4"), PROFILE, 24, (tmp_path / "o.mp4", tmp_path / "o.f32"), has_audio=False,
        keyframes=(0, 6),
    )  # fmt: skip
    graph = argv[argv.index("-filter_complex") + 1]
    assert "anullsrc=r=48000:cl=stereo" in argv
    for piece in ("fps=24", "force_original_aspect_ratio=decrease", "pad=160:90", "setsar=1",
                  "trim=end_frame=24", "atrim=end_sample=48000", "channel_layouts=stereo"):  # fmt: skip
        assert piece in graph
    assert "expr:eq(n,0)+eq(n,6)" in argv
    assert argv[argv.index("-video_track_timescale") + 1] == "24000"


def _luma_means(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(f.to_ndarray(format="gray").mean()) for f in container.decode(video=0)]


def test_video_starting_after_its_audio_keeps_every_source_frame(media, tmp_path):
    """A provider's MP4 whose picture starts 0.5 s after its audio (stream start times differ):
    the segment starts at the first picture, audio cut to match, not with a frozen head."""
    ramp = make_clip(media / "ramp.mp4", "color=black:s=160x90:r=24", None, vf="geq=lum='40+N*5':cb=128:cr=128")  # fmt: skip
    src = media / "late_picture.mp4"
    run_ffmpeg(["-itsoffset", "0.5", "-i", str(ramp), "-f", "lavfi", "-i",
                "sine=f=440:r=48000:d=2", "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                "-c:a", "aac", str(src)])  # fmt: skip
    segment = normalise(src, PROFILE, 36, tmp_path / "late.mp4")
    means = _luma_means(segment.path)
    assert len(means) == 36
    steps = np.diff(means)
    assert steps.min() > 2, f"frozen frames at {np.flatnonzero(steps <= 2).tolist()}"
    assert means[-1] == pytest.approx(_luma_means(ramp)[-1], abs=3)
    pcm = np.fromfile(segment.audio_path, dtype=np.float32).reshape(-1, 2)
    assert len(pcm) == 72000
    assert np.abs(pcm[:2400]).max() > 0.01  # the tone under the first picture, not silence


def test_a_video_stream_without_frames_is_named(media, tmp_path):
    """A container declaring a video stream that holds no frame (audio packets only)."""
    clip = make_clip(media / "for_empty.mkv", encode=("-c:v", "libx264", "-c:a", "aac"))
    empty = media / "empty_video.mkv"
    with av.open(str(clip)) as source, av.open(str(empty), "w") as output:
        output.add_stream_from_template(source.streams.video[0])
        audio = output.add_stream_from_template(source.streams.audio[0])
        for packet in source.demux(source.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = audio
                output.mux(packet)
    with pytest.raises(ClipError, match=r"empty_video\.mkv: not a usable video .*no frame"):
        normalise(empty, PROFILE, 24, tmp_path / "empty.mp4")


def test_a_native_clip_whose_picture_starts_late_keeps_every_frame(media, tmp_path):
    """The native variant render of a shot, its picture 0.5 s after its audio: the variant's
    segment opens on its first picture like the main one, not on a held copy of it."""
    ramp = make_clip(media / "ramp.mp4", "color=black:s=160x90:r=24", None,
                     vf="geq=lum='40+N*5':cb=128:cr=128")  # fmt: skip
    late = media / "late_native.mp4"
    run_ffmpeg(["-itsoffset", "0.5", "-i", str(ramp), "-f", "lavfi", "-i",
                "sine=f=440:r=48000:d=2", "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                "-c:a", "aac", str(late)])  # fmt: skip
    main = normalise(ramp, PROFILE, 36, tmp_path / "main.mp4")
    variant = resolve("1:1", PROFILE.width, PROFILE.height)
    segment = native_segment(late, main, (0, 0), PROFILE, variant, tmp_path / "square.mp4")
    steps = np.diff(_luma_means(segment.path))
    assert len(steps) == 35
    assert steps.min() > 2, f"frozen frames at {np.flatnonzero(steps <= 2).tolist()}"


HLG = (
    "format=gbrpf32le,zscale=tin=bt709:t=linear:npl=100:pin=bt709:p=bt709,"
    "zscale=tin=linear:pin=bt709:p=bt2020:t=arib-std-b67:m=bt2020nc:r=tv,format=yuv420p10le"
)


def test_an_hdr_clip_is_tone_mapped_to_the_profile(media, tmp_path):
    """A phone's HLG clip (BT.2020, 10 bit) of 75 % colour bars: the segment (BT.709 SDR) shows
    the bars as an SDR clip of them does, not dark and washed out."""
    hdr_tags = ("-color_trc", "arib-std-b67", "-color_primaries", "bt2020", "-colorspace", "bt2020nc")  # fmt: skip
    src = make_clip(media / "hlg_bars.mp4", "smptebars=s=160x90:r=24", None, vf=HLG,
                    encode=(*X265_10, *hdr_tags))  # fmt: skip
    segment = normalise(src, PROFILE, 12, tmp_path / "hlg.mp4")
    with av.open(str(segment.path)) as container:
        row = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)[20]
    grey, yellow = row[10], row[33]
    assert min(grey) > 165, f"75 % grey bar reads {grey.tolist()}"
    assert yellow[0] > 165, f"yellow bar reads {yellow.tolist()}"
    assert yellow[2] < 40, f"yellow bar reads {yellow.tolist()}"


def test_a_picture_changing_size_mid_clip_is_named(media, tmp_path):
    """Two sizes joined in one stream: FFmpeg rebuilds the filter graph at the change and the
    run makes one frame too many; the error says so instead of '-1 short'."""
    parts = []
    for index, size in enumerate(("160x90", "320x240")):
        part = media / f"size_part{index}.ts"
        run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=s={size}:r=24:d=0.75", "-c:v", "libx264",
                    "-preset", "ultrafast", "-f", "mpegts", str(part)])  # fmt: skip
        parts.append(part.read_bytes())
    joined = media / "size_change.ts"
    joined.write_bytes(b"".join(parts))
    src = media / "size_change.mkv"
    run_ffmpeg(["-i", str(joined), "-c", "copy", str(src)])
    with pytest.raises(ClipError, match=r"size_change\.mkv: normalised to 37 frames, 1 more than"):
        normalise(src, PROFILE, 36, tmp_path / "sizes.mp4")
