"""Clips an emulator has already rendered, kept for this process and served again by copy.

The animatic renderer is byte-for-byte deterministic for the same request (one x264 thread, seeded
drawing), and a fresh emulator with the same scenario seed hands out the same job ids, so tests
(and demos) that start emulators over and over ask for the same clips again and again. A provider
would render each request anew; what it returns is the same file, so serving a copy changes no
response, only the CPU spent. The cache is bounded in bytes, private to the process that filled
it (a forked child starts its own) and removed when that process exits.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

MAX_BYTES = 256 * 1024 * 1024


class RenderCache:
    """Rendered files by request key, least recently used dropped past ``max_bytes``."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.hits = self.misses = 0
        self._lock = threading.Lock()
        self._files: OrderedDict[str, tuple[Path, int]] = OrderedDict()
        self._size = 0
        self._folder: Path | None = None
        self._owner = 0

    def render(self, key: str, out: Path, make: Callable[[Path], Path]) -> Path:
        """``out`` holding what ``make(out)`` writes for ``key``: copied from an earlier render of
        the same key when one is kept, else made and kept."""
        if self._copy_kept(key, out):
            return out
        made = make(out)
        self._keep(key, made)
        return made

    def _copy_kept(self, key: str, out: Path) -> bool:
        """Copy the kept render of ``key`` to ``out``; False when none is kept. The copy and its
        rename are made under the lock: a render on another thread may drop this entry past the
        bound or ``clear`` the folder, and the file would vanish mid-copy (the job: ``render
        failed``); a second copy to the same ``out`` would share the partial file."""
        with self._lock:
            self._own()
            entry = self._files.get(key)
            if entry is None or not entry[0].exists():
                self.misses += 1
                return False
            self._files.move_to_end(key)
            self.hits += 1
            out.parent.mkdir(parents=True, exist_ok=True)
            partial = out.with_name(f".{out.name}.{os.getpid()}.copy")
            shutil.copyfile(entry[0], partial)
            partial.replace(out)
        return True

    def _keep(self, key: str, made: Path) -> None:
        size = made.stat().st_size
        if size > self.max_bytes:
            return
        with self._lock:
            folder = self._own()
            copy = folder / f"{key}.mp4"
            if key in self._files:
                return
            shutil.copyfile(made, copy)
            self._files[key] = (copy, size)
            self._size += size
            while self._size > self.max_bytes:
                _, (path, dropped) = self._files.popitem(last=False)
                path.unlink(missing_ok=True)
                self._size -= dropped

    def clear(self) -> None:
        """Forget every entry and remove this process's folder."""
        with self._lock:
            if self._folder is not None:
                _remove(self._folder, self._owner)
            self._files.clear()
            self._size, self._folder = 0, None

    def _own(self) -> Path:
        """This process's folder (a forked child forgets its parent's entries and folder)."""
        if self._folder is None or self._owner != os.getpid():
            self._files.clear()
            self._size = 0
            self._owner = os.getpid()
            self._folder = Path(tempfile.mkdtemp(prefix="shotline-emulated-clips-"))
            atexit.register(_remove, self._folder, self._owner)
        return self._folder


def _remove(folder: Path, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)


def request_key(*parts: object) -> str:
    """A key for a render from its inputs (bytes are hashed, everything else by ``repr``)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes):
            part = hashlib.sha256(part).hexdigest()
        digest.update(repr(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


CLIPS = RenderCache()
