"""The pieces of an edit's picture: ranges of a segment copied as packets, and transition windows
re-encoded between them (``video.plan_pieces`` lays them out; ``blend`` draws a window)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CopyPiece:
    """Frames ``[start, end)`` of shot ``shot``'s segment, copied as packets."""

    shot: int
    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class WindowPiece:
    """Re-encoded window into shot ``shot``: previous shot from ``prev_from``, this shot to ``head_to``."""

    shot: int
    prev_from: int
    head_to: int
    overlap: int
    prev_frames: int

    @property
    def frames(self) -> int:
        return self.prev_frames - self.prev_from + self.head_to - self.overlap


Piece = CopyPiece | WindowPiece
