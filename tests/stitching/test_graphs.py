"""The filter graphs built with ffmpeg-python (media/graph.py) mean what the hand-written ones
they replaced meant: the same filters with the same options, wired the same way, from the same
inputs (labels, option order and input numbering may differ), and the same output when run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import av
import numpy as np

from foundation.storyboard import Transition
from media.runner import run_ffmpeg
from stitching.chains import x264_args
from stitching.loudness import parse_ebur128
from stitching.pieces import WindowPiece
from stitching.plan import plan_edit
from stitching.segment import normalise_argv
from stitching.video import plan_pieces, windows_argv
from tests.stitching.conftest import PROFILE, make_clip
from tests.stitching.test_profile_plan import fake_segment

# The graphs as the stitcher wrote them by hand before ffmpeg-python, for the plan below.
OLD_WINDOWS = (
    "[0:v]trim=end_frame=24,fade=t=in:start_frame=0:nb_frames=6,format=yuv420p[w0];"
    "[1:v]trim=end_frame=12,setpts=PTS-STARTPTS,settb=1/24000[a1v2v];"
    "[2:v]trim=end_frame=12,setpts=PTS-STARTPTS,settb=1/24000[b1v2v];"
    "[b1v2v]format=yuva420p,fade=t=in:start_frame=0:nb_frames=12:alpha=1[f1v2v];"
    "[a1v2v][f1v2v]overlay=format=yuv420:shortest=1,settb=1/24000,setpts=N*1000,format=yuv420p[w1];"
    "[3:v]trim=end_frame=12,setpts=PTS-STARTPTS,settb=1/24000[a3v4v];"
    "[4:v]trim=end_frame=12,setpts=PTS-STARTPTS,settb=1/24000[b3v4v];"
    "[a3v4v][b3v4v]xfade=transition=wipeleft:duration=0.500000:offset=0.000000,settb=1/24000,"
    "setpts=N*1000,format=yuv420p[w2];"
    "[w0][w1][w2]concat=n=3:v=1:a=0[v]"
)
OLD_WINDOWS_INPUTS = [  # each window's inputs decoded on one thread (windows run two at a time)
    ["-threads", "1", "-i", "/nowhere/48.mp4"],
    ["-ss", "1.479167", "-threads", "1", "-i", "/nowhere/48.mp4"],
    ["-t", "0.541667", "-threads", "1", "-i", "/nowhere/48.mp4"],
    ["-ss", "1.479167", "-threads", "1", "-i", "/nowhere/48.mp4"],
    ["-t", "0.541667", "-threads", "1", "-i", "/nowhere/48.mp4"],
]
OLD_NORMALISE = (
    "[0:v:0]fps=24:start_time=0,scale=trunc(iw*sar/2)*2:ih,scale=160:90:force_original_aspect_"
    "ratio=decrease:out_range=tv:out_color_matrix=bt709,pad=160:90:(ow-iw)/2:(oh-ih)/2:color=black,"
    "setsar=1,format=yuv420p,tpad=stop_mode=clone:stop=5,trim=end_frame=24,"
    "setpts=N/FRAME_RATE/TB[v];"
    "[0:a:0]aresample=48000:async=1:first_pts=0,aformat=sample_fmts=fltp:sample_rates=48000:"
    "channel_layouts=stereo,apad,atrim=end_sample=48000,asetpts=N/SR/TB,asplit=2[a1][a2];"
    "[a2]ebur128=peak=true:framelog=verbose,anullsink"
)
FIRST_OPTION = {"fps": "fps"}  # written positionally by hand, by name by ffmpeg-python
LABEL = re.compile(r"\[([^\]]+)\]")


def _filter(text: str) -> tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]]:
    name, _, params = text.partition("=")
    positional, named = [], {}
    for param in params.split(":") if params else []:
        key, eq, value = param.partition("=")
        if eq:
            named[key] = value
        else:
            positional.append(param)
    if name in FIRST_OPTION and positional:
        named[FIRST_OPTION[name]] = positional.pop(0)
    return name, tuple(positional), tuple(sorted(named.items()))


def _inputs(argv: list[str]) -> list[tuple[str, ...]]:
    """Each ``-i`` with its input options (sorted), in the order the graph numbers them."""
    found: list[tuple[str, ...]] = []
    options: list[str] = []
    for arg in argv[: argv.index("-filter_complex")]:
        if options and options[-1] == "-i":
            pairs = sorted(f"{k} {v}" for k, v in zip(options[:-1:2], options[1:-1:2], strict=True))
            found.append((*pairs, arg))
            options = []
        else:
            options.append(arg)
    return found


def canonical(argv: list[str]) -> dict[str, Any]:
    """What the graph computes: one expression per ``-map`` (in argv order) and per sink, each a
    nested tuple of filters down to input files; labels and split outputs are erased."""
    inputs, text = _inputs(argv), argv[argv.index("-filter_complex") + 1]
    pads: dict[str, Any] = {}
    sinks: list[Any] = []
    for chain in text.split(";"):
        head = re.match(r"(\[[^\]]+\])*", chain)
        assert head is not None
        body, sources = chain[head.end() :], LABEL.findall(head.group(0))
        tail = re.search(r"(\[[^\]]+\])*$", body)
        assert tail is not None
        filters, outputs = body[: tail.start()].split(","), LABEL.findall(tail.group(0))
        value: tuple[Any, ...] = tuple(
            ("input", inputs[int(s.split(":")[0])], s.split(":", 1)[1])
            if s[0].isdigit()
            else pads[s]
            for s in sources
        )
        for spec in filters:
            node = _filter(spec)
            value = (((node[0],) if node[0] in ("split", "asplit") else node, value),)
        for label in outputs:
            pads[label] = value[0]
        if not outputs:
            sinks.append(value[0])
    maps = [argv[i + 1].strip("[]") for i, arg in enumerate(argv) if arg == "-map"]
    return {"maps": [pads[m] for m in maps], "sinks": sinks}


def _plan():
    items = [("a", fake_segment(48, (0, 24, 36)), Transition.parse("fade:0.25")),
             ("b", fake_segment(48, (0, 12, 36)), Transition.parse("crossfade:0.5")),
             ("c", fake_segment(48, (0, 12)), Transition.parse("wipe:0.5"))]  # fmt: skip
    return plan_edit(items, PROFILE)


def _old(graph: str, inputs: list[list[str]], label: str) -> list[str]:
    return [*(arg for one in inputs for arg in one), "-filter_complex", graph, "-map", label]


def test_window_graph_is_the_hand_written_one(tmp_path: Path) -> None:
    plan = _plan()
    windows = [p for p in plan_pieces(plan) if isinstance(p, WindowPiece)]
    new = canonical(windows_argv(plan, windows, tmp_path / "w.mp4"))
    assert new == canonical(_old(OLD_WINDOWS, OLD_WINDOWS_INPUTS, "[v]"))
    # the wipe is an xfade; the crossfade an overlay (stitching/blend.py)
    assert str(new).count("xfade") == 1
    assert str(new).count("overlay") == 1


def test_canonical_form_tells_graphs_apart(tmp_path: Path) -> None:
    """The comparison above can fail: one changed option or one swapped input shows."""
    plan = _plan()
    windows = [p for p in plan_pieces(plan) if isinstance(p, WindowPiece)]
    new = canonical(windows_argv(plan, windows, tmp_path / "w.mp4"))
    changed = OLD_WINDOWS.replace("offset=0.000000,settb", "offset=0.1,settb")
    assert new != canonical(_old(changed, OLD_WINDOWS_INPUTS, "[v]"))
    swapped = [OLD_WINDOWS_INPUTS[0], *OLD_WINDOWS_INPUTS[2:0:-1], *OLD_WINDOWS_INPUTS[3:]]
    assert new != canonical(_old(OLD_WINDOWS, swapped, "[v]"))


def _video_frames(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [f.to_ndarray().tobytes() for f in container.decode(container.streams.video[0])]


def test_normalise_graph_gives_the_same_picture_samples_and_loudness(tmp_path: Path) -> None:
    """The loudness chain measures in the PCM path now (ebur128 passes samples through) instead of
    on a split copy: same video frames, bit-identical PCM, same loudness summary."""
    src = make_clip(tmp_path / "src.mp4", seconds=1.2)
    outputs = {"new": (tmp_path / "new.mp4", tmp_path / "new.f32")}
    new_argv = normalise_argv(src, PROFILE, 24, outputs["new"], has_audio=True, keyframes=(0, 6))
    old_video, old_pcm = tmp_path / "old.mp4", tmp_path / "old.f32"
    old_argv = [
        "-i", str(src), "-filter_complex", OLD_NORMALISE,
        "-map", "[v]", "-an", *x264_args(PROFILE, (0, 6)), "-f", "mp4", str(old_video),
        "-map", "[a1]", "-c:a", "pcm_f32le", "-f", "f32le", str(old_pcm),
    ]  # fmt: skip
    new_loudness = parse_ebur128(run_ffmpeg(new_argv, loglevel="info"))
    old_loudness = parse_ebur128(run_ffmpeg(old_argv, loglevel="info"))
    assert new_loudness == old_loudness
    assert new_loudness.integrated > -40  # a sine tone, not silence
    new_pcm = outputs["new"][1].read_bytes()
    assert new_pcm == old_pcm.read_bytes()
    assert len(np.frombuffer(new_pcm, np.float32)) == 2 * PROFILE.samples_for(24)
    new_frames = _video_frames(outputs["new"][0])
    assert len(new_frames) == 24
    assert new_frames == _video_frames(old_video)
