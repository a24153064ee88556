"""The picture a correct join of two segments shows (a cut, a crossfade, a fade through black),
predicted from their proxies.

At a high frame rate a long crossfade moves its weight by ``1/overlap`` a frame (1/203 for 1.69 s
at 120 fps), and where one source moves while the other holds, the blend carries only part of
that motion: the mix stands still (``edges.FREEZE_MAD``) for longer than either source does. The
join check therefore compares the output's frozen run with the one the mix of the two segments'
own frames has, drawn as ``blend`` draws it: the next shot's head faded in as an alpha plane that
is ``i / overlap`` on the window's frame ``i`` (FFmpeg ``fade`` with ``nb_frames=overlap``).
A cut is the crossfade of no frames: the two segments' own frames back to back. A fade through
black is FFmpeg's ``xfade=transition=fadeblack`` (``libavfilter/vf_xfade.c``, FADEBLACK_TRANSITION:
with ``progress`` going from 1 to 0 over the overlap, ``p * mix(a, black, s(0.8, 1, p)) +
(1 - p) * mix(black, b, s(0.2, 1, p))``, ``s`` its ``smoothstep``; black is luma 0), drawn on
the proxies (the mix is linear, so it commutes with their downscale but for what their grey
clips below 0: measured within 3.5 grey levels of a real fade's proxies, ``FADE_NOISE``). A wipe
is ``xfade=transition=wipeleft`` (WIPELEFT_TRANSITION: column ``x`` of the frame shows the next
shot where ``x > z``, ``z = (int)(width * progress)``): on a proxy, each column the share of its
frame columns on either side of the edge.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from media.frames import Gray
from stitching.edges import RunStats, frame_proxies, mad, run_stats
from stitching.plan import ShotPlan
from stitching.profile import OutputProfile


def _segment_frames(shot: ShotPlan, indices: list[int], profile: OutputProfile) -> dict[int, Gray]:
    """Proxies of a segment's frames: saved edge proxies, the rest decoded (none if it is gone)."""
    segment = shot.segment
    return frame_proxies(
        segment.path, segment.video_sha, indices, profile.rate, decode=segment.path.is_file()
    )


BLACK = -16 * 255 / 219
"""What ``fadeblack`` dips to, as the proxies carry it: luma 0 (``xfade``'s black for a YUV
picture, below the limited range's 16), where the proxies' grey, read from limited-range luma, is
0 at luma 16; what falls below is clipped to 0, as the proxies' conversion clips it."""


def _smoothstep(edge0: float, edge1: float, x: float) -> float:
    t = min(max((x - edge0) / (edge1 - edge0), 0.0), 1.0)
    return t * t * (3 - 2 * t)


def _wipe_shares(columns: int, width: int, weight: float) -> npt.NDArray[np.float64]:
    """Each of a proxy's ``columns`` columns' share of the next shot, at frame ``weight`` of a
    wipe of a ``width``-pixel-wide frame: frame columns ``x > z`` show it."""
    z = int(width * (1 - weight))
    edges = np.arange(columns + 1) * width / columns
    return np.clip((edges[1:] - (z + 1)) / (edges[1:] - edges[:-1]), 0.0, 1.0)


def _blend(kind: str, tail: Gray, head: Gray, weight: float, width: int) -> Gray:
    """Frame ``weight`` (the head's share, 0 to 1) of a crossfade, a fade through black or a
    wipe of a ``width``-pixel-wide frame."""
    if kind in ("crossfade", "wipe"):  # the head's share: the whole frame's, or each column's
        share = weight if kind == "crossfade" else _wipe_shares(tail.shape[1], width, weight)
        frame = (1 - share) * tail.astype(float) + share * head
    else:
        progress = 1 - weight
        out = _smoothstep(0.8, 1.0, progress)
        into = _smoothstep(0.2, 1.0, progress)
        faded = out * tail.astype(float) + (1 - out) * BLACK
        rising = into * BLACK + (1 - into) * head.astype(float)
        frame = progress * faded + (1 - progress) * rising
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def crossfade_stretch(
    previous: ShotPlan, shot: ShotPlan, timeline: range, profile: OutputProfile
) -> list[Gray] | None:
    """The timeline frames ``timeline`` of a correct join from ``previous`` into ``shot`` (a cut,
    a crossfade, a fade through black or a wipe), drawn from the segments' proxies and rounded to 8
    bits; None when a proxy is missing."""
    j, overlap = shot.timeline_in, shot.transition_frames
    prev_at = [t - previous.timeline_in for t in timeline if t < j + overlap]
    head_at = [t - j for t in timeline if t >= j]
    tail = _segment_frames(previous, prev_at, profile)
    head = _segment_frames(shot, head_at, profile)
    if len(tail) < len(prev_at) or len(head) < len(head_at):
        return None
    mixed: list[Gray] = []
    for t in timeline:
        if t < j:
            mixed.append(tail[t - previous.timeline_in])
        elif t >= j + overlap:
            mixed.append(head[t - j])
        else:
            weight = (t - j) / overlap
            mixed.append(
                _blend(
                    shot.transition.kind,
                    tail[t - previous.timeline_in],
                    head[t - j],
                    weight,
                    profile.width,
                )
            )
    return mixed


MIX_NOISE = 2.0
"""Grey levels (mean absolute) by which a crossfade's encoded frames may differ from the exact mix
of its two segments' frames (``crossfade_stretch``): x264 lags a slow fade by under one level
(0.8 over a 21-frame crossfade of two near-alike stills, whose mix stands still for 11 frames
where the encode stands still for 21); a window holding one picture for 40 frames where the mix
moves leaves it by more."""


FADE_NOISE = 4.0
"""Grey levels by which a fade through black's encoded frames may differ from the one drawn on
the segments' proxies (``crossfade_stretch``): up to 3.5 measured, where the head rises out of
black and its darkest pixels are clipped one by one in the picture but as the proxies' averages
there."""


WIPE_NOISE = 5.0
"""Grey levels by which a wipe's encoded frames may differ from the one drawn on the segments'
proxies: under 1.6 measured at 160x90 and larger, 2.5 at 90x160, 4.0 at 48x270 and 4.6 at 34x34
at 120 fps (test patterns full of detail, where the window's own encode strays most; a
crossfade's strayed 5.1 there). The edge itself is drawn as each proxy column's straight share of
it, which the proxies' downscale spreads a little further."""


NOISE = {"cut": 0.0, "crossfade": MIX_NOISE, "fade": FADE_NOISE, "wipe": WIPE_NOISE}
"""The joins drawn on the proxies, and the grey levels by which an output's frames may stray from
the drawing (a cut copies the segments' packets: its frames are theirs exactly, or it went
wrong)."""


def drawn_runs(
    previous: ShotPlan,
    shot: ShotPlan,
    timeline: range,
    profile: OutputProfile,
    frames: dict[int, Gray],
) -> tuple[RunStats, float | None]:
    """The black and frozen runs a correct join of the two segments has over ``timeline`` (a cut:
    their own frames back to back; a crossfade: their mix; a fade: the dip drawn on them; a wipe:
    its edge drawn across them), and how far ``frames`` stray from it at most (no runs and None
    when the proxies are gone)."""
    if shot.transition.kind not in NOISE:
        return RunStats(0, 0), None
    mixed = crossfade_stretch(previous, shot, timeline, profile)
    if mixed is None:
        return RunStats(0, 0), None
    strays = [
        mad(frames[t], frame) for t, frame in zip(timeline, mixed, strict=True) if t in frames
    ]
    return run_stats(mixed), max(strays, default=0.0)
