"""Frame access: small proxies of chosen frames of a video file (PyAV, one seek per range)."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from media.colour import reformat, to_rgb

Gray = npt.NDArray[np.uint8]
PROXY_WIDTH = 96


def gray_frames(path: Path, indices: Iterable[int], rate: Fraction) -> dict[int, Gray]:
    """Small grey proxies of the wanted frame indices."""
    return proxy_frames(path, indices, rate)


def proxy_frames(
    path: Path, indices: Iterable[int], rate: Fraction, width: int = PROXY_WIDTH, fmt: str = "gray"
) -> dict[int, Gray]:
    """Decode the wanted frame indices (grouped into ranges, one seek per range); a colour
    ``fmt`` is read with the frame's matrix, else the one players assume (``colour.to_rgb``)."""
    wanted = sorted(set(indices))
    found: dict[int, Gray] = {}
    if not wanted:
        return found
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = stream.time_base or Fraction(1, 90000)
        height = max(2, round(width * stream.codec_context.height / stream.codec_context.width))
        for group in _ranges(wanted):
            container.seek(round(group[0] / rate / tb), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                index = round(frame.pts * tb * rate)
                if index > group[-1]:
                    break
                if index in group and index not in found:
                    if fmt == "gray":
                        small = reformat(frame, width=width, height=height, format=fmt)
                        found[index] = np.asarray(small.to_ndarray(), dtype=np.uint8)
                    else:
                        found[index] = to_rgb(frame, fmt, width, height)
    return found


def _ranges(wanted: list[int], gap: int = 48) -> list[list[int]]:
    groups: list[list[int]] = [[wanted[0]]]
    for index in wanted[1:]:
        if index - groups[-1][-1] > gap:
            groups.append([])
        groups[-1].append(index)
    return groups
