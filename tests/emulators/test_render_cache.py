"""An emulator serves a repeated request from its render cache: the same bytes as a new render,
without rendering again, bounded in bytes, and never shared with a forked child."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

from emulators.media import ClipSpec, render_clip
from emulators.render_cache import CLIPS, RenderCache, request_key

ROOT = Path(__file__).parents[2]


def _spec(**changes: object) -> ClipSpec:
    fields: dict[str, object] = {"provider": "runway", "model": "gen4_turbo", "prompt": "a quiet dock",
                                 "duration_s": 1.0, "width": 160, "height": 90, "seed": 7}  # fmt: skip
    return ClipSpec(**(fields | changes))  # type: ignore[arg-type]


def test_a_repeated_request_is_the_same_file_without_a_new_render(tmp_path):
    first = render_clip(_spec(), tmp_path / "a" / "job1.mp4")
    hits = CLIPS.hits
    again = render_clip(_spec(), tmp_path / "b" / "job1.mp4")
    assert CLIPS.hits == hits + 1
    assert again.read_bytes() == first.read_bytes()
    other = render_clip(_spec(seed=8), tmp_path / "c" / "job1.mp4")
    assert other.read_bytes() != first.read_bytes(), "another seed is another clip"
    hits = CLIPS.hits
    named = render_clip(_spec(), tmp_path / "d" / "job2.mp4")
    assert CLIPS.hits == hits + 1, "the same request with its seed, in another job"
    assert named.read_bytes() == first.read_bytes(), "a provider draws no job id into the frames"
    unseeded = [
        render_clip(_spec(seed=None), tmp_path / "e" / f"{job}.mp4") for job in ("j1", "j2")
    ]
    assert unseeded[0].read_bytes() != unseeded[1].read_bytes(), "unseeded, each job is its own"


def test_the_cache_drops_the_least_recently_used_past_its_bytes(tmp_path):
    cache, made = RenderCache(max_bytes=250), []

    def make(size: int):
        def write(out: Path) -> Path:
            made.append(out)
            out.write_bytes(b"x" * size)
            return out

        return write

    for name in ("a", "b", "c"):
        cache.render(name, tmp_path / f"{name}.mp4", make(100))
    assert len(made) == 3
    cache.render("c", tmp_path / "c2.mp4", make(100))
    cache.render("a", tmp_path / "a2.mp4", make(100))
    assert [p.name for p in made] == ["a.mp4", "b.mp4", "c.mp4", "a2.mp4"], "a was dropped for c"
    assert cache.render("big", tmp_path / "big.mp4", make(1000)).stat().st_size == 1000
    assert cache.render("big", tmp_path / "big2.mp4", make(1000)).name == "big2.mp4"
    assert len(made) == 6, "a file over the bound is never kept"


def _writing(data: bytes):
    def write(out: Path) -> Path:
        out.write_bytes(data)
        return out

    return write


FORKED_CHILD = """
import os, sys
from pathlib import Path
from emulators.render_cache import RenderCache

def writing(data):
    def write(out):
        out.write_bytes(data)
        return out
    return write

folder = Path(sys.argv[1])
cache = RenderCache()
cache.render("k", folder / "parent.mp4", writing(b"p"))
pid = os.fork()
if pid == 0:  # the child: the parent's entry is not served, the parent's folder is not used
    served = cache.render("k", folder / "child.mp4", writing(b"c"))
    ok = served.read_bytes() == b"c" and cache.hits == 0
    cache.clear()
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, "the child was served the parent's entry"
assert cache.render("k", folder / "again.mp4", lambda out: out).read_bytes() == b"p"
cache.clear()
"""


def test_a_kept_render_dropped_by_another_thread_is_still_copied_whole(tmp_path, monkeypatch):
    """Two jobs render at once: while one copies a kept clip, the other's new render pushes that
    clip past the bound. The copy is made first and the other thread waits for it (it unlinked
    the kept file mid-copy: ``FileNotFoundError``, a ``render failed`` job)."""
    cache = RenderCache(max_bytes=150)
    cache.render("a", tmp_path / "a.mp4", lambda out: _written(out, b"a" * 100))
    copy, other = shutil.copyfile, list[threading.Thread]()

    def copy_while_another_render_lands(src, dst):
        if not other:  # the first copy: the kept "a" for the second job
            other.append(threading.Thread(target=cache.render, args=(
                "b", tmp_path / "b.mp4", lambda out: _written(out, b"b" * 100))))  # fmt: skip
            other[0].start()
            other[0].join(0.5)  # it renders and keeps "b" (dropping "a") unless it must wait
        return copy(src, dst)

    monkeypatch.setattr(shutil, "copyfile", copy_while_another_render_lands)
    again = cache.render("a", tmp_path / "a2.mp4", lambda out: _written(out, b"new"))
    other[0].join()
    assert again.read_bytes() == b"a" * 100
    assert (tmp_path / "b.mp4").read_bytes() == b"b" * 100
    assert cache.hits == 1


def _written(out: Path, data: bytes) -> Path:
    out.write_bytes(data)
    return out


def test_a_forked_child_keeps_its_own_cache(tmp_path):
    """Forked from a process of one thread: a fork of this test's worker, whose threads may hold
    a lock at that moment, hung once in the child (600 s, the suite's timeout)."""
    done = subprocess.run(
        [sys.executable, "-c", FORKED_CHILD, str(tmp_path)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert {p.name for p in tmp_path.glob("*.mp4")} == {"again.mp4", "child.mp4", "parent.mp4"}


def test_bytes_are_keyed_by_content():
    assert request_key(b"frame") == request_key(b"frame") != request_key(b"other")
    assert request_key("a", 1) != request_key("a", 2)
