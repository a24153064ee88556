"""Transition windows as files of their own, cached beside the shot they lead into.

A window depends only on the two segments it joins (their video digests), the transition and the
encoder settings, so it can be rendered as soon as both neighbours are normalised, while other
shots still render; assembly then only copies it. Missing windows are rendered at assembly, one
FFmpeg per window, two at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from shotline.storyboard import Transition
from stitching.ffmpeg import run_ffmpeg
from stitching.frames import edges_path, save_edges
from stitching.plan import EditPlan, plan_edit
from stitching.profile import OutputProfile
from stitching.segment import Segment, file_digest, probe_params
from stitching.video import WindowPiece, plan_pieces, windows_argv

CACHE_DIR = "windows"


def window_path(plan: EditPlan, window: WindowPiece) -> Path | None:
    """Where the window is cached; None when a segment carries no digest (nothing to key on)."""
    shot = plan.shots[window.shot]
    previous = plan.shots[window.shot - 1].segment.video_sha if window.shot else "-"
    if not shot.segment.video_sha or not previous:
        return None
    settings = {k: v for k, v in plan.profile.to_dict().items() if "loudness" not in k}
    key = json.dumps(
        [previous, shot.segment.video_sha, str(shot.transition), window.prev_from,
         window.head_to, window.overlap, settings],
        sort_keys=True, default=str,
    )  # fmt: skip
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return shot.segment.path.parent / CACHE_DIR / f"{digest}.mp4"


def _render(plan: EditPlan, window: WindowPiece, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:8]}.mp4")
    try:
        run_ffmpeg(windows_argv(plan, [window], tmp))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    rate = plan.profile.rate
    save_edges(out, window.frames, rate, window.frames, edges_path(out), file_digest(out))
    return out


def _usable(path: Path, plan: EditPlan) -> bool:
    try:
        return bool(
            probe_params(path, quick=True)["extradata_sha"] == plan.shots[0].segment.extradata_sha
        )
    except Exception:
        return False


def render_windows(plan: EditPlan, windows: list[WindowPiece], work: Path) -> dict[int, Path]:
    """Each window's file (by the shot it leads into): from the cache, else rendered now."""
    found: dict[int, Path] = {}
    missing: list[tuple[WindowPiece, Path]] = []
    for window in windows:
        cached = window_path(plan, window)
        if cached is not None and cached.is_file() and _usable(cached, plan):
            found[window.shot] = cached
        else:
            missing.append((window, cached or work / f"window-{window.shot}.mp4"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        rendered = pool.map(lambda job: _render(plan, *job), missing)
        found |= {window.shot: path for (window, _), path in zip(missing, rendered, strict=True)}
    return found


def prerender(
    profile: OutputProfile,
    run: list[tuple[str, Segment, Transition]],
    work: Path,
    *,
    starts_edit: bool,
) -> list[Path]:
    """Render (into the cache) the windows of a run of consecutive normalised shots.

    ``run`` lists neighbours as they sit in the full edit, each with the transition into it. The
    window into the run's first shot is rendered only when the run ``starts_edit`` (a fade in
    from black); its other neighbour is not in the run.
    """
    if not starts_edit:
        run = [(run[0][0], run[0][1], Transition.parse("cut")), *run[1:]]
    plan = plan_edit(run, profile)
    windows = [p for p in plan_pieces(plan) if isinstance(p, WindowPiece)]
    return list(render_windows(plan, windows, work).values())
