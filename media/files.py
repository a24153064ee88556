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


def not_a_file(path: Path) -> str | None:
    """Why ``path`` is no regular file to read (None when it is): it does not exist, it is a folder,
    or it is a device, a pipe or a socket. Each used to be "PATH is not a file"."""
    try:
        status = Path(path).stat()
    except FileNotFoundError:
        where = "" if Path(path).is_absolute() else f" (a relative path, read from {Path.cwd()})"
        return f"{path} does not exist{where}"
    except OSError as exc:
        return f"{path} cannot be read: {exc.strerror or exc}"
    if stat.S_ISDIR(status.st_mode):
        return f"{path} is a folder, not a file"
    if not stat.S_ISREG(status.st_mode):
        return f"{path} is not a regular file (a device, a pipe or a socket)"
    return None
