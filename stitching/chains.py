"""The filter chains and encoder settings every piece of a programme shares: a source's picture
and sound brought to the output profile (``video_chain``, ``audio_chain``), and the x264 settings
of segments, variants and transition windows (one SPS/PPS, so that their packets join by stream
copy)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from media.colour import SourceColour
from media.graph import Input, Stream, open_input
from stitching.loudness import EBUR128_OPTIONS
from stitching.profile import OutputProfile
from stitching.track import Crop


def x264_args(profile: OutputProfile, keyframes: Sequence[int] = (0,)) -> list[str]:
    """Encoder settings shared by segments and transition windows (same SPS/PPS by construction)."""
    forced = "+".join(f"eq(n,{k})" for k in sorted(set(keyframes)))
    return [
        "-c:v", profile.video_codec, "-preset", profile.preset, "-crf", str(profile.crf),
        "-profile:v", "high", "-pix_fmt", profile.pix_fmt,
        "-g", str(profile.gop_frames), "-force_key_frames", f"expr:{forced}",
        "-color_range", "tv", "-colorspace", "bt709", "-color_primaries", "bt709",
        "-color_trc", "bt709", "-video_track_timescale", str(profile.timescale),
        "-map_metadata", "-1", "-map_chapters", "-1",
    ]  # fmt: skip


# A transition window is short (one overlap) and a blend of two pictures, where x264's motion
# search finds little: a diamond search with one subpel step keeps the SPS/PPS of ``x264_args``
# (stream copy needs them identical; checked by ``windows.render_windows``) at ~30 % less CPU,
# for a window as large or smaller at the same CRF. One thread: windows are made two at a time,
# or beside a normalise run that already uses every core. The frames keep the timestamps the
# graph gives them (``blend.transition_chain`` puts them on the frame grid): no re-timing.
WINDOW_X264 = ["-threads", "1", "-x264-params", "me=dia:subme=1", "-fps_mode", "passthrough"]


def window_x264_args(profile: OutputProfile, keyframes: Sequence[int] = (0,)) -> list[str]:
    """``x264_args`` for a transition window (``WINDOW_X264``)."""
    return [*x264_args(profile, keyframes), *WINDOW_X264]


def video_chain(
    video: Stream,
    profile: OutputProfile,
    frames: int,
    hold: int,
    crop: Crop | None = None,
    hdr: bool = False,
    colour: SourceColour | None = None,
) -> Stream:
    """A source picture to the profile: rate, square pixels, letterboxed size, colour range and
    matrix, pixel format; the last frame held for ``hold`` more frames, then cut at ``frames``.
    ``crop`` (a reframe) is cut out of the source picture first; an ``hdr`` (PQ or HLG) picture
    is tone-mapped to BT.709 SDR (``tone_map``). ``colour`` is how the source's Y'CbCr is read
    (``MediaInfo.colour``: its tags, else what players assume for its size); None leaves it to
    FFmpeg, which takes an untagged picture as BT.601 whatever its size. The frames are stamped
    0, 1, 2... on a time base of one frame: ``setpts=N/FRAME_RATE/TB`` is computed in floating
    point and truncated, and after ``tpad`` it stamped frame 11 at 29.97 fps (and most frames at
    112.686) one frame early; the segment's encoder re-timed them, but a transition window made
    beside it from the same picture lost a frame where two shared a time."""
    w, h = profile.width, profile.height
    if crop is not None:
        video = video.filter("crop", crop.width, crop.height, crop.x, crop.y)
    video = video.filter("fps", fps=str(profile.rate), start_time=0)
    if hdr:
        video = tone_map(video)  # its output is BT.709, limited range, tagged so
    source = colour.scale_options() if colour is not None and not hdr else {}
    return (
        video.filter("scale", "trunc(iw*sar/2)*2", "ih")
        .filter("scale", w, h, force_original_aspect_ratio="decrease", **source,
                out_range="tv", out_color_matrix="bt709")
        .filter("pad", w, h, "(ow-iw)/2", "(oh-ih)/2", color="black")
        .filter("setsar", 1)
        .filter("format", profile.pix_fmt)
        .filter("tpad", stop_mode="clone", stop=hold)
        .filter("trim", end_frame=frames)
        .filter("settb", f"{profile.rate.denominator}/{profile.rate.numerator}")
        .filter("setpts", "N")
    )  # fmt: skip


def tone_map(video: Stream) -> Stream:
    """An HDR picture (its transfer and primaries read from the stream) as BT.709 SDR: linear
    light with SDR white at 100 nits, BT.709 primaries, ``mobius`` keeping the SDR range as it is
    and rolling off brighter highlights."""
    return (
        video.filter("zscale", t="linear", npl=100)
        .filter("format", "gbrpf32le")
        .filter("zscale", p="bt709")
        .filter("tonemap", tonemap="mobius", desat=0)
        .filter("zscale", t="bt709", m="bt709", r="tv")
    )


def audio_chain(audio: Stream, profile: OutputProfile, frames: int) -> Stream:
    """A source's audio to float stereo at the profile's rate, exactly as many samples as
    ``frames`` last, its loudness measured on the way (``ebur128`` passes samples through and
    prints its summary on stderr at log level info)."""
    sr = profile.sample_rate
    return (
        audio.filter("aresample", sr, first_pts=0, **{"async": 1})
        .filter("aformat", sample_fmts="fltp", sample_rates=sr, channel_layouts="stereo")
        .filter("apad")
        .filter("atrim", end_sample=profile.samples_for(frames))
        .filter("asettb", f"1/{sr}")
        .filter("asetpts", "N")
        .filter("ebur128", **EBUR128_OPTIONS)
    )


def source_input(src: Path, video_lead_s: float) -> Input:
    """``src`` as an input whose picture starts at 0: a picture starting ``video_lead_s`` after
    the audio would otherwise be preceded by copies of its first frame (``fps`` from 0)."""
    return open_input(str(src), itsoffset=-video_lead_s) if video_lead_s else open_input(str(src))
