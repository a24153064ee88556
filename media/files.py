"""Facts about a media file before it is opened."""

from __future__ import annotations

import stat
from pathlib import Path

EMPTY = "is empty (0 bytes)"
"""What an error says of a 0-byte file (FFmpeg's own words are "Invalid data found when processing
input")."""


def is_empty(path: Path) -> bool:
    """A regular file of 0 bytes (a pipe or device has no size to read; a missing file is left to
    the opener's error)."""
    try:
        status = Path(path).stat()
    except OSError:
        return False
    return stat.S_ISREG(status.st_mode) and status.st_size == 0
