"""Burned-in captions: the cues drawn into the programme's picture, in one re-encode.

The FFmpeg in use (``media.ffmpeg``: the imageio-ffmpeg wheel's unless ``SHOTLINE_FFMPEG`` names
another) decides how: the ``ass`` filter (libass) when it has it, with an ASS file written by
``pysubs2`` whose style scales with the frame (bottom centre, white on a black outline); else
``drawtext`` (libfreetype), one filter per cue enabled while the cue shows (``showing``: from its
start up to its end, as libass draws it). Both draw with the font shotline ships
(``foundation.caption_font``: libass is given its folder, ``drawtext`` its file), whatever fonts
the machine has. When libass reports it found no font (it then draws nothing and still exits 0) or
``drawtext`` fails, each cue is drawn with OpenCV's built-in font (``media.caption``) on a
transparent PNG laid over the picture with ``overlay`` while the cue shows. The wheel's FFmpeg
9.0.2 has libass and libfreetype. The burned file has the segments' encoder settings, so it is
copied into the output like a full re-encode.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np

from foundation.caption_font import FAMILY, font_file, fonts_dir
from media.caption import PANEL_ALPHA, WHITE, Frame, draw_text, fit_block
from media.errors import FFmpegError
from media.ffmpeg import has_filter
from media.graph import Stream, compile_graph, join, open_input
from media.runner import run_ffmpeg
from stitching.captions import Cue, subtitle_file
from stitching.chains import x264_args
from stitching.errors import StitchError
from stitching.plan import EditPlan

log = logging.getLogger(__name__)
Renderer = Literal["ass", "drawtext", "opencv"]
# libass (FFmpeg 9.0.2's) with no usable font: none for the font itself (glyph 0x0; older libass:
# "...fallback for font:"). "Failed to load fontconfig fonts" alone is not one: the shipped font
# is loaded from its folder. A character no font has is reported "with glyph 0x6F22": the rest is
# drawn, and no other renderer has that glyph either (validation refuses such a line).
NO_FONT = (
    "failed to find any fallback with glyph 0x0 ",
    "failed to find any fallback for font:",
)
FONT_SHARE = 0.07  # font size as a share of the frame height
MIN_FONT_PX = 10


def renderers() -> list[Renderer]:
    """What can draw the captions, best first: the FFmpeg filters it has, then OpenCV."""
    found: list[Renderer] = [name for name in ("ass", "drawtext") if has_filter(name)]
    return [*found, "opencv"]


def font_px(height: int) -> int:
    return max(MIN_FONT_PX, round(height * FONT_SHARE))


def ass_text(cues: list[Cue], width: int, height: int) -> str:
    """The cues as an ASS script on a canvas of the output's size."""
    import pysubs2

    subs = subtitle_file(cues)
    subs.info.update({"PlayResX": str(width), "PlayResY": str(height), "WrapStyle": "0"})
    size = font_px(height)
    subs.styles["Default"] = pysubs2.SSAStyle(
        fontname=FAMILY, fontsize=size, primarycolor=pysubs2.Color(255, 255, 255),
        outlinecolor=pysubs2.Color(0, 0, 0), backcolor=pysubs2.Color(0, 0, 0, 128),
        outline=max(1, size / 12), shadow=0, alignment=pysubs2.Alignment.BOTTOM_CENTER,
        marginl=round(width * 0.04), marginr=round(width * 0.04), marginv=round(height * 0.05),
    )  # fmt: skip
    return str(subs.to_string("ass"))


def showing(cue: Cue) -> str:
    """The timeline expression enabling a filter while ``cue`` shows: from its start up to, not
    including, its end, as the SRT and WebVTT time it and libass draws it (``between`` includes
    its end: the frame at a cue's end showed it, over the next cue where one starts there)."""
    return f"gte(t,{cue.start_ms / 1000:.3f})*lt(t,{cue.end_ms / 1000:.3f})"


def _drawtext(picture: Stream, cues: list[Cue], height: int, work: Path) -> Stream:
    size = font_px(height)
    for index, cue in enumerate(cues):
        text = work / f"cue-{index:04d}.txt"
        text.write_text("\n".join(cue.lines), encoding="utf-8")
        picture = picture.filter(
            "drawtext", textfile=str(text), fontfile=str(font_file()), fontsize=size,
            fontcolor="white", borderw=2,
            bordercolor="black", x="(w-text_w)/2", y=f"h-text_h-{round(height * 0.05)}",
            enable=showing(cue),
        )  # fmt: skip
    return picture


def cue_overlay(cue: Cue, width: int, height: int) -> Frame:
    """One cue as a BGRA picture of the frame's size: white text in OpenCV's font on a
    translucent black panel at the bottom centre, transparent elsewhere."""
    margin = round(height * 0.05)
    groups = [(line, 1.0) for line in cue.lines]
    room = (width - 2 * margin, height // 3)
    block = fit_block(groups, (0, 0), room, font_px(height) / 22)
    x0, y0, x1, y1 = block.box
    block = block.moved((width - (x1 - x0)) // 2 - x0, height - margin - y1)
    image = np.zeros((height, width, 4), np.uint8)
    x0, y0, x1, y1 = block.box
    image[y0:y1, x0:x1] = (0, 0, 0, round(255 * PANEL_ALPHA))
    ink = np.zeros((height, width, 3), np.uint8)
    draw_text(ink, block.lines, WHITE)
    drawn = ink.max(axis=2) > 0
    image[drawn] = np.concatenate([ink[drawn], np.full((int(drawn.sum()), 1), 255, np.uint8)], 1)
    return image


def _overlays(picture: Stream, cues: list[Cue], plan: EditPlan, work: Path) -> Stream:
    import cv2

    for index, cue in enumerate(cues):
        png = work / f"cue-{index:04d}.png"
        cv2.imwrite(str(png), cue_overlay(cue, plan.profile.width, plan.profile.height))
        picture = join("overlay", [picture, open_input(str(png))["v"]], enable=showing(cue))
    return picture


def burn_argv(
    plan: EditPlan, src: Path, cues: list[Cue], work: Path, out: Path, how: Renderer
) -> list[str]:
    """Argv drawing ``cues`` on the programme picture ``src`` (video only) into ``out``."""
    profile = plan.profile
    picture = open_input(str(src))["v"]
    if how == "ass":
        script = work / "captions.ass"
        script.write_text(ass_text(cues, profile.width, profile.height), encoding="utf-8")
        picture = picture.filter("ass", filename=str(script), fontsdir=str(fonts_dir()))
    elif how == "drawtext":
        picture = _drawtext(picture, cues, profile.height, work)
    else:
        picture = _overlays(picture, cues, plan, work)
    graph = compile_graph([picture.filter("format", profile.pix_fmt)])
    return [
        *graph.inputs, "-filter_complex", graph.text, "-map", graph.labels[0],
        "-frames:v", str(plan.total_frames), "-an", *x264_args(profile), "-f", "mp4", str(out),
    ]  # fmt: skip


def burn(
    plan: EditPlan, src: Path, cues: list[Cue], work: Path, only: Renderer | None = None
) -> tuple[Path, Renderer]:
    """``src`` with the cues drawn in, as ``work/burned.mp4``, and what drew them (``only``:
    that renderer and no other)."""
    out = work / "burned.mp4"
    for how in [only] if only else renderers():
        try:
            stderr = run_ffmpeg(burn_argv(plan, src, cues, work, out, how), loglevel="warning")
        except FFmpegError as exc:
            log.warning("captions: %s could not draw the captions: %s", how, exc)
            continue
        if how != "ass" or not any(sign in stderr for sign in NO_FONT):
            return out, how
        log.warning("captions: libass found no font; drawing the captions another way")
    raise StitchError(f"captions could not be burned in ({only or 'every renderer failed'})")
