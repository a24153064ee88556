"""Burned-in captions: the cues drawn into the programme's picture, in one re-encode.

The FFmpeg in use (``media.ffmpeg``: the imageio-ffmpeg wheel's unless ``SHOTLINE_FFMPEG`` names
another) decides how: the ``ass`` filter (libass) when it has it, with an ASS file written by
``pysubs2`` whose style scales with the frame (bottom centre, white on a black outline); else
``drawtext`` (libfreetype), one filter per cue enabled during the cue; else ``StitchError`` before
anything is encoded. The wheel's FFmpeg 9.0.2 has both. The burned file has the segments' encoder
settings, so it is copied into the output like a full re-encode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from media.ffmpeg import has_filter
from media.graph import Stream, compile_graph, open_input
from media.runner import run_ffmpeg
from stitching.captions import Cue, subtitle_file
from stitching.errors import StitchError
from stitching.plan import EditPlan
from stitching.segment import x264_args

Renderer = Literal["ass", "drawtext"]
FONT = "DejaVu Sans"
FONT_SHARE = 0.07  # font size as a share of the frame height
MIN_FONT_PX = 10


def renderer() -> Renderer:
    """The filter that will draw the captions; ``StitchError`` when FFmpeg has neither."""
    for name in ("ass", "drawtext"):
        if has_filter(name):
            return "ass" if name == "ass" else "drawtext"
    raise StitchError(
        "captions.burn_in needs an FFmpeg with the `ass` (libass) or `drawtext` (libfreetype) "
        "filter; the FFmpeg in use has neither (unset SHOTLINE_FFMPEG to use the wheel's)"
    )


def font_px(height: int) -> int:
    return max(MIN_FONT_PX, round(height * FONT_SHARE))


def ass_text(cues: list[Cue], width: int, height: int) -> str:
    """The cues as an ASS script on a canvas of the output's size."""
    import pysubs2

    subs = subtitle_file(cues)
    subs.info.update({"PlayResX": str(width), "PlayResY": str(height), "WrapStyle": "0"})
    size = font_px(height)
    subs.styles["Default"] = pysubs2.SSAStyle(
        fontname=FONT, fontsize=size, primarycolor=pysubs2.Color(255, 255, 255),
        outlinecolor=pysubs2.Color(0, 0, 0), backcolor=pysubs2.Color(0, 0, 0, 128),
        outline=max(1, size / 12), shadow=0, alignment=pysubs2.Alignment.BOTTOM_CENTER,
        marginl=round(width * 0.04), marginr=round(width * 0.04), marginv=round(height * 0.05),
    )  # fmt: skip
    return str(subs.to_string("ass"))


def _drawtext(picture: Stream, cues: list[Cue], height: int, work: Path) -> Stream:
    size = font_px(height)
    for index, cue in enumerate(cues):
        text = work / f"cue-{index:04d}.txt"
        text.write_text("\n".join(cue.lines), encoding="utf-8")
        picture = picture.filter(
            "drawtext", textfile=str(text), fontsize=size, fontcolor="white", borderw=2,
            bordercolor="black", x="(w-text_w)/2", y=f"h-text_h-{round(height * 0.05)}",
            enable=f"between(t,{cue.start_ms / 1000:.3f},{cue.end_ms / 1000:.3f})",
        )  # fmt: skip
    return picture


def burn_argv(plan: EditPlan, src: Path, cues: list[Cue], work: Path, out: Path) -> list[str]:
    """Argv drawing ``cues`` on the programme picture ``src`` (video only) into ``out``."""
    profile = plan.profile
    picture = open_input(str(src))["v"]
    if renderer() == "ass":
        script = work / "captions.ass"
        script.write_text(ass_text(cues, profile.width, profile.height), encoding="utf-8")
        picture = picture.filter("ass", filename=str(script))
    else:
        picture = _drawtext(picture, cues, profile.height, work)
    graph = compile_graph([picture.filter("format", profile.pix_fmt)])
    return [
        *graph.inputs, "-filter_complex", graph.text, "-map", graph.labels[0],
        "-frames:v", str(plan.total_frames), "-an", *x264_args(profile), "-f", "mp4", str(out),
    ]  # fmt: skip


def burn(plan: EditPlan, src: Path, cues: list[Cue], work: Path) -> Path:
    """``src`` with the cues drawn in, as ``work/burned.mp4``."""
    out = work / "burned.mp4"
    run_ffmpeg(burn_argv(plan, src, cues, work, out))
    return out
