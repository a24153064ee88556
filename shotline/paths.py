"""Output paths the commands write, checked before any work or spend."""

from __future__ import annotations

import os
import re
from pathlib import Path

from foundation.errors import InvalidInputError, Problem

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov")
"""What an output MP4 (H.264 and AAC in the ISO base media format) may be called: a file named
``.mkv`` or ``.webm`` held MP4 bytes, which tools that trust the name misread."""

_FILE_TYPE = re.compile(r"\.[a-z][a-z0-9]{1,4}")

NAME_ROOM = 64
"""Bytes of a file name kept for what is written beside an output under names made from its own
(``.NAME.TOKEN.work``, ``STEM.1080x1920.plan.json``): a 250-byte name failed on the last step."""


def writable_output(path: Path, option: str) -> None:
    """Refuse (``InvalidInputError`` at ``option``, exit 2) an output file no run could write: an
    existing folder, a path below a file, or one below a folder this process may not write in.
    Checked before anything is rendered, drafted or paid for (a render to ``/etc/passwd/o.mp4``
    paid for every shot, then failed on the last step)."""
    if path.is_dir():
        raise InvalidInputError(
            f"{path} is a folder; nothing was done", [Problem(option, "name a file to write")]
        )
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    name = len(path.name.encode())
    if not folder.is_dir():
        why = f"{folder} is a file, not a folder"
    elif not os.access(folder, os.W_OK | os.X_OK):
        why = f"{folder} is not writable by this process"
    elif name > (longest := os.pathconf(folder, "PC_NAME_MAX") - NAME_ROOM):
        why = (
            f"the file name is {name} bytes; at most {longest} leave room for the files written "
            "beside it (temporary files, sidecars, variants)"
        )
    else:
        return
    raise InvalidInputError(f"{path} cannot be written; nothing was done", [Problem(option, why)])


def writable_video(path: Path, option: str) -> None:
    """``writable_output``, and a name an MP4 may carry: one of ``VIDEO_SUFFIXES``, or none (a
    stem's last dot followed by something that is no file type, ``take.2026-12-07``)."""
    writable_output(path, option)
    suffix = path.suffix.lower()
    if _FILE_TYPE.fullmatch(suffix) and suffix not in VIDEO_SUFFIXES:
        why = f"shotline writes MP4 (H.264, AAC): name the file {', '.join(VIDEO_SUFFIXES)}"
        raise InvalidInputError(
            f"{path} would hold MP4 under a {suffix} name; nothing was done", [Problem(option, why)]
        )
