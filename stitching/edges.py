"""Run statistics of grey frame proxies (black and frozen runs) and the edge proxies saved beside
a normalised segment, from which the assembler measures joins without decoding the output again."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from media.frames import Gray, gray_frames
from stitching.saved import read_npz, write_npz

BLACK_LUMA = 32
BLACK_SHARE = 0.98
FREEZE_MAD = 0.5


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


def _run_starts(frames: list[Gray]) -> list[int]:
    """For each frame, the index of the frame its still run is measured from (``longest_still``)."""
    starts, start = [], 0
    for k, frame in enumerate(frames):
        if k and mad(frame, frames[start]) >= FREEZE_MAD:
            start = k
        starts.append(start)
    return starts


def longest_still(frames: list[Gray]) -> int:
    """Frames in the longest run that stays within ``FREEZE_MAD`` of its first frame (0 for none
    of two or more), as FFmpeg's ``freezedetect`` compares each frame with the one its candidate
    freeze started on, not with the previous frame (``libavfilter/vf_freezedetect.c``,
    ``activate``: the reference frame is replaced only by a frame that is not frozen): a picture
    that moves by a little every frame is not frozen."""
    return max(
        (k - start + 1 for k, start in enumerate(_run_starts(frames)) if k > start), default=0
    )


def still_reference(frames: list[Gray]) -> Gray | None:
    """The frame that the still run holding the last of ``frames`` is measured from, by
    ``longest_still``'s rule (None for no frames): a frame after them continues that run when it
    is within ``FREEZE_MAD`` of this one, whatever it differs from the last."""
    return frames[_run_starts(frames)[-1]] if frames else None


def run_stats(frames: list[Gray]) -> RunStats:
    return RunStats(longest_run([is_black(f) for f in frames]), longest_still(frames))


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
    write_npz(out, indices=indices, frames=stack, digest=np.array(digest))
    head = run_stats([got[i] for i in head_idx if i in got])
    tail = run_stats([got[i] for i in tail_idx if i in got])
    return head, tail


def frame_proxies(
    path: Path, digest: str | None, indices: list[int], rate: Fraction, decode: bool = True
) -> dict[int, Gray]:
    """Proxies of frames ``indices`` of ``path``: those saved beside it while its video digest is
    ``digest`` (``load_edges``), the rest decoded (``decode``: else left out)."""
    saved = load_edges(path, digest) if indices and digest else {}
    missing = [i for i in indices if i not in saved]
    decoded = gray_frames(path, missing, rate) if missing and decode else {}
    return {i: frame for i in indices if (frame := saved.get(i, decoded.get(i))) is not None}


def load_edges(segment_path: Path, digest: str) -> dict[int, Gray]:
    """The edge proxies saved beside a segment whose video digest is ``digest`` (else empty)."""
    try:
        data = read_npz(edges_path(segment_path))
        if str(data["digest"]) != digest:
            return {}
        return {int(i): f for i, f in zip(data["indices"], data["frames"], strict=True)}
    except (OSError, KeyError, ValueError):
        return {}
