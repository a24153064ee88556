"""The picture a correct crossfade of two segments shows at a join, predicted from their proxies.

At a high frame rate a long crossfade moves its weight by ``1/overlap`` a frame (1/203 for 1.69 s
at 120 fps), and where one source moves while the other holds, the blend carries only part of
that motion: the mix stands still (``edges.FREEZE_MAD``) for longer than either source does. The
join check therefore compares the output's frozen run with the one the mix of the two segments'
own frames has, drawn as ``blend`` draws it: the next shot's head faded in as an alpha plane that
is ``i / overlap`` on the window's frame ``i`` (FFmpeg ``fade`` with ``nb_frames=overlap``).
A cut is the crossfade of no frames: the two segments' own frames back to back.
"""

from __future__ import annotations

import numpy as np

from media.frames import Gray
from stitching.edges import frame_proxies
from stitching.plan import ShotPlan
from stitching.profile import OutputProfile


def _segment_frames(shot: ShotPlan, indices: list[int], profile: OutputProfile) -> dict[int, Gray]:
    """Proxies of a segment's frames: saved edge proxies, the rest decoded (none if it is gone)."""
    segment = shot.segment
    return frame_proxies(
        segment.path, segment.video_sha, indices, profile.rate, decode=segment.path.is_file()
    )


def crossfade_stretch(
    previous: ShotPlan, shot: ShotPlan, timeline: range, profile: OutputProfile
) -> list[Gray] | None:
    """The timeline frames ``timeline`` of a correct crossfade from ``previous`` into ``shot``,
    mixed from the segments' proxies and rounded to 8 bits; None when a proxy is missing."""
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
            frame = (1 - weight) * tail[t - previous.timeline_in] + weight * head[t - j]
            mixed.append(np.rint(frame).astype(np.uint8))
    return mixed
