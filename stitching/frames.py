"""Small grey proxies of chosen frames (PyAV, seek + decode) and the run statistics built on them."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]
PROXY_WIDTH = 96
BLACK_LUMA = 32
BLACK_SHARE = 0.98
FREEZE_MAD = 0.5


def gray_frames(path: Path, indices: Iterable[int], rate: Fraction) -> dict[int, Gray]:
    """Small grey proxies of the wanted frame indices."""
    return proxy_frames(path, indices, rate)


def proxy_frames(
    path: Path, indices: Iterable[int], rate: Fraction, width: int = PROXY_WIDTH, fmt: str = "gray"
) -> dict[int, Gray]:
    """Decode the wanted frame indices (grouped into ranges, one seek per range)."""
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
                    small = frame.reformat(width=width, height=height, format=fmt)
                    found[index] = np.asarray(small.to_ndarray(), dtype=np.uint8)
    return found


def _ranges(wanted: list[int], gap: int = 48) -> list[list[int]]:
    groups: list[list[int]] = [[wanted[0]]]
    for index in wanted[1:]:
        if index - groups[-1][-1] > gap:
            groups.append([])
        groups[-1].append(index)
    return groups


def is_black(frame: Gray) -> bool:
    return bool(np.mean(frame < BLACK_LUMA) >= BLACK_SHARE)


def mad(a: Gray, b: Gray) -> float:
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


def longest_run(flags: list[bool]) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


@dataclass(frozen=True)
class RunStats:
    """Longest black run and longest frozen run (frames) in a stretch of frames."""

    black: int
    frozen: int


def run_stats(frames: list[Gray]) -> RunStats:
    black = longest_run([is_black(f) for f in frames])
    still = [mad(a, b) < FREEZE_MAD for a, b in itertools.pairwise(frames)]
    frozen = longest_run(still)
    return RunStats(black, frozen + 1 if frozen else 0)


def edges_path(segment_path: Path) -> Path:
    return segment_path.with_suffix(".edges.npz")


def save_edges(
    path: Path, frames: int, rate: Fraction, edge: int, out: Path, digest: str
) -> tuple[RunStats, RunStats]:
    """Run statistics of a segment's first and last ``edge`` frames; their proxies saved to ``out``.

    The assembler measures joins of stream-copied segments from these proxies: the output carries
    the very same packets (checked by digest), so it decodes to the very same frames.
    """
    edge = min(edge, frames)
    head_idx, tail_idx = list(range(edge)), list(range(frames - edge, frames))
    got = gray_frames(path, head_idx + tail_idx, rate)
    indices = np.array(sorted(got), dtype=np.int64)
    stack = np.stack([got[i] for i in indices]) if len(indices) else np.zeros((0, 1, 1), np.uint8)
    with out.open("wb") as handle:
        np.savez(handle, indices=indices, frames=stack, digest=np.array(digest))
    head = run_stats([got[i] for i in head_idx if i in got])
    tail = run_stats([got[i] for i in tail_idx if i in got])
    return head, tail


def load_edges(segment_path: Path, digest: str) -> dict[int, Gray]:
    """The edge proxies saved beside a segment whose video digest is ``digest`` (else empty)."""
    try:
        with np.load(edges_path(segment_path)) as data:
            if str(data["digest"]) != digest:
                return {}
            return {int(i): f for i, f in zip(data["indices"], data["frames"], strict=True)}
    except (OSError, KeyError, ValueError):
        return {}
