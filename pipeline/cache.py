"""Accepted-shot cache: a shot whose determining inputs are unchanged reuses the accepted clip.

The key hashes what determines the clip (prompt, model, duration, size, fps, seed, audio, dialogue,
negative prompt and the reference image's content), so an edited storyboard re-renders only the
shots whose key changed. Reuse stays within one tenant unless the platform opts in to sharing
accepted clips across tenants (``SHOTLINE_SHARE_SHOT_CACHE``). A reused clip becomes a file of the
reusing job (``own_copy``), so deleting the job that made it takes nothing from the jobs that
reused it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from foundation import money
from foundation.errors import NotFoundError, ShotlineError
from foundation.states import SHOT_HAS_CLIP, Stage
from pipeline.assets import AssetStore
from store.models import Attempt, Job, Shot
from store.records import RouteCandidate

Local = Callable[[str], Path]
"""Turns a file reference into a readable local path (``AssetStore.local``; ``Path`` for paths)."""


def _file_digest(path: str | None, local: Local = Path) -> str | None:
    """The content's digest: the same image keys the same whether it is a path or a stored
    object (each job's put of it has its own reference)."""
    if not path:
        return None
    try:
        return hashlib.sha256(local(path).read_bytes()).hexdigest()
    except (OSError, ShotlineError):
        return f"unreadable:{path}"


def shot_cache_key(
    session: Session,
    spec: dict[str, Any],
    shot: Shot,
    candidate: RouteCandidate,
    local: Local = Path,
) -> str:
    """``cache_key`` of ``shot``; a shot that ``continues`` starts from the previous shot's last
    frame, so the previous shot's clip is one of its inputs (else every segment of a long take,
    one prompt and one length, would reuse the first segment's clip)."""
    after = None
    if spec.get("continues"):
        previous = session.scalar(
            select(Shot).where(Shot.job_id == shot.job_id, Shot.position == shot.position - 1)
        )
        after = (
            "none"
            if previous is None
            else (previous.cache_key or _file_digest(previous.asset_path) or "none")
        )
    return cache_key(spec, candidate, after, local)


def cache_key(
    spec: dict[str, Any],
    candidate: RouteCandidate,
    after: str | None = None,
    local: Local = Path,
) -> str:
    payload: dict[str, Any] = {
        "prompt": spec["prompt"],
        "negative_prompt": spec.get("negative_prompt"),
        "dialogue": spec.get("dialogue"),
        "seed": spec.get("seed"),
        "reference": _file_digest(spec.get("reference_image"), local),
        "model": candidate.model_id,
        "duration": candidate.duration_s,
        "size": [candidate.width, candidate.height],
        "fps": candidate.fps,
        "audio": candidate.audio,
    }
    if after is not None:  # only for shots that continue: other shots' keys stay as they were
        payload["after"] = after
    if spec.get("extends"):  # an extension of the clip, not a render from its last frame
        payload["extends"] = True
    if spec.get("reference_images"):  # only for shots with character references, likewise
        payload["references"] = [_file_digest(p, local) for p in spec["reference_images"]]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


SAVED_APART = (Stage.TTS, Stage.KEYFRAME, Stage.SHEET, Stage.MUSIC)
"""Stages whose tries a shot keeps beside its video (the job's bed on its first shot) and whose
reuse saves its own quote (the report's ``reused``): not part of what a cached video saves."""


def find_cached(
    session: Session,
    key: str,
    exclude_shot: int,
    tenant: str | None,
    exists: Callable[[str], bool] = lambda ref: Path(ref).exists(),
) -> tuple[Shot, float] | None:
    """An accepted shot with this key whose clip still ``exists`` (in the asset store), and what
    its video cost to make (its tries but those of ``SAVED_APART``).

    Only shots of ``tenant``'s jobs are candidates; ``None`` searches every tenant (the opt-in
    cross-tenant cache).
    """
    query = select(Shot).where(
        Shot.cache_key == key, Shot.id != exclude_shot, Shot.asset_path.is_not(None)
    )
    if tenant is not None:
        query = query.join(Job, Job.id == Shot.job_id).where(Job.tenant == tenant)
    for shot in session.scalars(query):
        if shot.status in SHOT_HAS_CLIP and exists(shot.asset_path or ""):
            cost = session.scalar(
                select(func.coalesce(func.sum(Attempt.settled_usd), 0.0)).where(
                    Attempt.shot_id == shot.id,
                    Attempt.stage.not_in(SAVED_APART),
                )
            )
            return shot, money.stored(cost)
    return None


def reused_path(job_assets: Path, ref: str) -> Path:
    """Where a job keeps its own file of the cached output ``ref``: one name per reference, so two
    outputs with the same file name never take each other's place."""
    tag = hashlib.sha256(ref.encode()).hexdigest()[:12]
    return job_assets / "reused" / f"{tag}-{PurePosixPath(ref).name}"


def own_copy(assets: AssetStore, ref: str, dest: Path, scope: str) -> str | None:
    """The cached clip ``ref`` made a file of the reusing job: written at ``dest`` (a hard link
    where the file system allows, else a copy) and put for ``scope`` (``<tenant>/<job>``), so
    deleting the job that made it (``DELETE /v1/videos/{id}``: another tenant's, with a shared
    cache) leaves the reuser's clip. None when the clip went meanwhile: the shot renders."""
    try:
        source = assets.local(ref)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.unlink(missing_ok=True)
        try:
            os.link(source, dest)
        except OSError:  # another file system, or links not allowed
            shutil.copyfile(source, dest)
    except (OSError, NotFoundError):
        return None
    return assets.put(dest, scope, alone=True)
