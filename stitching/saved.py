"""Arrays saved beside segments (``.npz``: edge proxies, loudness sub-blocks), read one file at a
time.

numpy parses each array's header with ``ast.literal_eval``, and CPython 3.11 builds an AST with a
recursion counter its threads share: two of the assembler's threads reading saved arrays at once
raised ``SystemError: AST constructor recursion depth mismatch`` and crashed a stitch (seen once
in CI; cpython gh-106905 names the counter). The reads are serialised; each takes well under a
millisecond.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_READING = threading.Lock()


def read_npz(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Every array of the ``.npz`` at ``path``, read whole; ``OSError``/``ValueError`` as numpy's."""
    with _READING, np.load(path) as data:
        return {name: data[name] for name in data.files}
