"""Both versions of a committed preview: the per-shot diff between preview and final, and the
preview/final agreement (colour similarity of the two clips' middle frames; for a shot the final
split, of the preview's middle and the part showing it), recorded on the commit once its final
job is delivered."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from foundation import money
from foundation.documents import set_path
from foundation.errors import NotFoundError
from foundation.settings import get_settings
from foundation.states import SHOT_HAS_CLIP, JobStatus, ShotStatus
from foundation.storyboard import Storyboard
from ledger import figures
from media.colour import to_rgb
from pipeline import assets
from pipeline.assets import AssetStore, store_for
from pipeline.cache import own_copy
from pipeline.commit_types import segments_of
from quality import screening
from store import jobs
from store.db import session_scope
from store.models import AttemptCost, Job, JobCommit, Shot
from store.records import ShotRoute


def first_frame(clip: Path, out: Path) -> Path:
    """Write the clip's first decodable frame as a PNG (once) and return its path. Concurrent
    callers (a quote and a commit of the same preview) each write their own temporary file, and
    the last rename wins with the same frame."""
    if out.exists():
        return out
    with av.open(str(clip)) as container:
        frame = next(container.decode(video=0), None)
        if frame is None:
            raise ValueError(f"{clip} has no decodable video frame")
        image = to_rgb(frame, "bgr24")  # its matrix, else the players' one
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp.png")
    try:
        cv2.imwrite(str(tmp), image)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


FRAMES = "first-frames"
"""The folder of a job's assets where a commit writes the preview clips' first frames."""


def own_inputs(
    store: AssetStore, board: Storyboard, dirs: tuple[Path, Path], scope: str
) -> Storyboard:
    """The final's storyboard ``board`` with every image it has of its preview made a file of
    the final (``own_copy`` into the final's asset folder, put for its ``scope``): the first
    frames written among the preview's assets, and with the S3 store the reference images put
    under the preview's objects. ``dirs``: the preview's and the final's asset folders. Deleting
    the preview (``DELETE /v1/videos/{id}``) then leaves the final the images it renders and
    re-renders from."""
    data = board.model_dump(mode="json")
    for path, ref in screening.board_images(board):
        frame = Path(ref).parent == dirs[0] / FRAMES
        if not frame and not assets.is_remote(ref):
            continue  # the tenant's own file (local store): no job's folder holds it
        dest = dirs[1] / (FRAMES if frame else "references") / Path(ref).name
        own = own_copy(store, ref, dest, scope)
        if own is None:
            raise NotFoundError(f"the preview's image at {path} ({ref}) is no longer stored")
        set_path(data, path, own)
        if path.endswith(".keyframe"):  # a keyframe path is the shot's reference_image too
            set_path(data, path.removesuffix("keyframe") + "reference_image", own)
    return Storyboard.model_validate(data)


def middle_frame(clip: Path, at_s: float | None = None) -> np.ndarray[Any, Any]:
    """The clip's middle frame, or with ``at_s`` the one shown ``at_s`` seconds in (its last
    past the end). Frames are decoded one at a time up to it, never held all at once."""
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        middle, until_s = None, (at_s or 0.0) + 1e-6
        if at_s is None:
            middle = sum(1 for packet in container.demux(stream) if packet.size) // 2
            container.seek(0)
        chosen = None
        for index, frame in enumerate(container.decode(stream)):
            past = index > middle if middle is not None else (frame.time or 0.0) > until_s
            if chosen is not None and past:
                break
            chosen = frame
    if chosen is None:
        raise ValueError(f"{clip} has no decodable video frame")
    return to_rgb(chosen, "bgr24")  # only the frame used is converted


def _histogram(image: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    small = cv2.resize(image, (96, 54), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [30, 16], [0, 180, 0, 256])
    return cv2.normalize(hist, hist).flatten()


def similarity(preview: Path, final: Path, final_at_s: float | None = None) -> float:
    """Colour agreement of two clips in [0, 1]: correlation of the hue/saturation histograms of
    their middle frames (1 for the same look, about 0 for unrelated ones); with ``final_at_s``,
    the final's frame that many seconds in (a part of a shot holding the shot's middle)."""
    a = _histogram(middle_frame(preview))
    b = _histogram(middle_frame(final, final_at_s))
    return max(0.0, min(1.0, float(cv2.compareHist(a, b, cv2.HISTCMP_CORREL))))


def commits_of(session: Session, job_id: str) -> list[JobCommit]:
    """The commits a job takes part in (as preview or as final), oldest first."""
    preview = session.scalar(
        select(JobCommit.preview_job_id).where(JobCommit.final_job_id == job_id)
    )
    return list(
        session.scalars(
            select(JobCommit)
            .where(JobCommit.preview_job_id == (preview or job_id))
            .order_by(JobCommit.id)
        )
    )


def _shots(session: Session, job_id: str) -> dict[str, Shot]:
    return {row.key: row for row in jobs.shots_of(session, job_id)}


def _score(
    preview: Shot | None, final: Shot | None, final_at_s: float | None = None
) -> float | None:
    if preview is None or final is None or final.status not in SHOT_HAS_CLIP:
        return None
    store = store_for(get_settings())  # the clips may be in a bucket
    refs = (preview.asset_path or "", final.asset_path or "")
    if not all(ref and store.exists(ref) for ref in refs):
        return None
    try:
        a, b = (store.local(ref) for ref in refs)
        return round(similarity(a, b, final_at_s), 4)
    except (ValueError, NotFoundError, av.FFmpegError):
        return None


def _final_middle(
    finals: dict[str, Shot], board: dict[str, Any], parts: list[str]
) -> tuple[Shot | None, float]:
    """For a shot the final split into ``parts``: the part showing the shot's middle moment and
    how far into it that moment is (the parts' lengths as the final's storyboard wrote them)."""
    seconds = {s["id"]: float(s["duration"]) for scene in board["scenes"] for s in scene["shots"]}
    lengths = [seconds.get(part, 0.0) for part in parts]
    middle, start = sum(lengths) / 2, 0.0
    for part, length in zip(parts[:-1], lengths, strict=False):
        if middle < start + length:
            return finals.get(part), middle - start
        start += length
    return finals.get(parts[-1]), max(0.0, middle - start)


def record_agreement(session: Session, row: JobCommit) -> bool:
    """Score the committed shots of a delivered final job (once). True when it was recorded. A
    shot the final split is scored on the part that shows its middle."""
    if row.agreement is not None:
        return False
    final = session.get(Job, row.final_job_id)
    if final is None or final.status != JobStatus.DELIVERED:
        return False
    previews, finals = _shots(session, row.preview_job_id), _shots(session, row.final_job_id)
    scores = {}
    for key in row.shots:
        parts = segments_of(row.quote, key)
        shot, at_s = (
            _final_middle(finals, final.storyboard, parts) if parts else (finals.get(key), None)
        )
        scores[key] = _score(previews.get(key), shot, at_s)
    row.agreement = {key: score for key, score in scores.items() if score is not None}
    return True


def refresh_agreements(db_url: str, tenant: str | None = None) -> int:
    """Record the agreement of every commit whose final job has been delivered since."""
    with session_scope(db_url) as session:
        query = select(JobCommit).where(JobCommit.agreement.is_(None))
        if tenant is not None:
            query = query.where(JobCommit.tenant == tenant)
        return sum(record_agreement(session, row) for row in session.scalars(query))


def _costs(session: Session, job_id: str) -> dict[str, Decimal]:
    """What each shot of the job cost (``ledger.figures.spent`` of its attempts' records)."""
    by_shot: dict[str, list[AttemptCost]] = {}
    for row in session.scalars(select(AttemptCost).where(AttemptCost.job_id == job_id)):
        by_shot.setdefault(row.shot_key, []).append(row)
    return {key: figures.spent(rows) for key, rows in by_shot.items()}


def _version(shot: Shot | None, cost: Decimal) -> dict[str, Any] | None:
    if shot is None:
        return None
    route = ShotRoute.from_json(shot.route)
    first = route.primary
    return {
        "status": shot.status,
        "model": shot.model_id,
        "size": f"{first.width}x{first.height}" if first else None,
        "seconds": first.duration_s if first else None,
        "seed": route.seed,
        "cost_usd": money.to_json(cost),
    }


_PROGRESS = (
    ShotStatus.FAILED, ShotStatus.CANCELLED, ShotStatus.PLANNED,
    ShotStatus.RENDERING, ShotStatus.ACCEPTED, ShotStatus.NORMALISED,
)  # fmt: skip
"""A split shot's status is its least advanced segment's (a failed or cancelled one first)."""


def _final_version(
    finals: dict[str, Shot], costs: dict[str, Decimal], quote: dict[str, Any], key: str
) -> dict[str, Any] | None:
    """Shot ``key``'s final version; for a shot the final split, its segments' added up (models
    named once each, seconds and cost summed) with their ids under ``segments``."""
    parts = segments_of(quote, key)
    if not parts:
        return _version(finals.get(key), costs.get(key, money.ZERO))
    found = [_version(finals.get(part), costs.get(part, money.ZERO)) for part in parts]
    versions = [v for v in found if v is not None]
    if len(versions) != len(found):
        return None
    first = versions[0]
    return first | {
        "status": min((v["status"] for v in versions), key=_PROGRESS.index),
        "model": " + ".join(dict.fromkeys(str(v["model"]) for v in versions)),
        "seconds": round(sum(float(v["seconds"] or 0) for v in versions), 6),
        "cost_usd": money.to_json(money.total(costs.get(part, money.ZERO) for part in parts)),
        "segments": parts,
    }


def _changes(preview: dict[str, Any] | None, final: dict[str, Any] | None) -> list[str]:
    if preview is None or final is None:
        return []
    return [k for k in ("model", "size", "seconds", "seed") if preview.get(k) != final.get(k)]


def versions(db_url: str, job_id: str) -> dict[str, Any]:
    """The preview and the latest final of a committed job, shot by shot, with what changed."""
    with session_scope(db_url) as session:
        commits = commits_of(session, job_id)
        if not commits:
            raise NotFoundError(f"job {job_id} has no commit")
        latest = commits[-1]
        record_agreement(session, latest)
        preview_id, final_id = latest.preview_job_id, latest.final_job_id
        previews, finals = _shots(session, preview_id), _shots(session, final_id)
        p_cost, f_cost = _costs(session, preview_id), _costs(session, final_id)
        by_id = {
            j.id: j for j in session.scalars(select(Job).where(Job.id.in_([preview_id, final_id])))
        }
        committed = {key for c in commits for key in c.shots}
        rows = []
        for key, shot in previews.items():
            before = _version(shot, p_cost.get(key, money.ZERO))
            approved = key in latest.shots
            after = _final_version(finals, f_cost, latest.quote, key) if approved else None
            rows.append(
                {
                    "id": key,
                    "approved": approved,
                    "ever_committed": key in committed,
                    "rejected": key in (latest.rejected or []),
                    "preview": before,
                    "final": after,
                    "changes": _changes(before, after),
                    "agreement": (latest.agreement or {}).get(key),
                }
            )
        return {
            "preview_job_id": preview_id,
            "final_job_id": final_id,
            "commits": [
                {"final_job_id": c.final_job_id, "shots": c.shots, "rejected": c.rejected or []}
                for c in commits
            ],
            "preview": _job(by_id[preview_id]),
            "final": _job(by_id[final_id]),
            "quote": latest.quote,
            "agreement": latest.agreement,
            "shots": rows,
        }


def _job(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "mode": job.mode,
        "status": job.status,
        "output_path": job.output_path if job.status == JobStatus.DELIVERED else None,
        "spent_usd": money.to_json(job.spent_usd),
    }
