"""Arrays saved beside segments (``.npz``: edge proxies, loudness sub-blocks), written whole or
not at all, read one file at a time.

numpy parses each array's header with ``ast.literal_eval``, and CPython 3.11 builds an AST with a
recursion counter its threads share: two of the assembler's threads reading saved arrays at once
raised ``SystemError: AST constructor recursion depth mismatch`` and crashed a stitch (seen once
in CI; cpython gh-106905 names the counter). The reads are serialised; each takes well under a
millisecond.
"""

from __future__ import annotations

import os
import threading
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_READING = threading.Lock()


def read_npz(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Every array of the ``.npz`` at ``path``, read whole; ``OSError`` when it cannot be opened,
    ``ValueError`` when it is not a whole array file (cut short, or of another kind)."""
    try:
        with _READING, np.load(path) as data:
            return {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path}: not a whole array file: {exc}") from exc


def write_npz(path: Path, **arrays: Any) -> None:
    """Save ``arrays`` to ``path`` through a temporary file beside it: a process stopped while
    writing leaves the previous file or none, never a cut one."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with partial.open("wb") as handle:
            np.savez(handle, **arrays)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
