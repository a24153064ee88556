"""One job for the dashboard's drill-down: its shots, every attempt of each with its verdict,
findings, cost record, clip and thumbnail; and the clip files and thumbnails themselves."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import views
from foundation.errors import NotFoundError
from foundation.states import SHOT_HAS_CLIP, JobStatus
from ledger import aggregates
from ledger.aggregates import CostFilter
from media.frames import proxy_frames
from media.probe import probe
from pipeline.assets import is_remote
from pipeline.commit_versions import commits_of
from pipeline.context import RunContext
from store import jobs
from store.db import session_scope
from store.models import Attempt, AttemptCost, Job, Shot

THUMB_WIDTH = 320


def thumbnail(clip: Path) -> bytes:
    """The middle frame of ``clip`` as a JPEG ``THUMB_WIDTH`` wide."""
    info = probe(clip, read_rotation=False)
    if info.error or not info.fps:
        raise NotFoundError(f"{clip.name} is not a readable video ({info.error or 'no frames'})")
    rate = Fraction(info.fps).limit_denominator(1001)
    count = info.frame_count or max(1, round(info.duration_s * info.fps))
    middle = count // 2
    found = proxy_frames(clip, [middle], rate, THUMB_WIDTH, "bgr24")
    frame = found.get(middle) if found else None
    if frame is None:
        found = proxy_frames(clip, [0], rate, THUMB_WIDTH, "bgr24")
        frame = found.get(0)
    if frame is None:
        raise NotFoundError(f"{clip.name} has no decodable frame")
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise NotFoundError(f"{clip.name}: its frame could not be encoded")
    return bytes(encoded.tobytes())


def stored(ctx: RunContext, ref: str | None, what: str) -> Path:
    """The clip at ``ref`` on this machine (fetched from the asset store when remote)."""
    if not ref:
        raise NotFoundError(f"{what} has no clip")
    if not ctx.assets.exists(ref):
        raise NotFoundError(f"the clip of {what} is no longer stored")
    return ctx.assets.local(ref)


def shot_clip(ctx: RunContext, job_id: str, shot_key: str) -> Path:
    with session_scope(ctx.db_url) as session:
        shot = jobs.shot_by_key(session, job_id, shot_key)
        if shot is None:
            raise NotFoundError(f"job {job_id} has no shot {shot_key}")
        status, asset = shot.status, shot.asset_path
    return stored(ctx, asset if status in SHOT_HAS_CLIP else None, f"shot {shot_key}")


def attempt_clip(ctx: RunContext, job_id: str, attempt_id: int) -> Path:
    with session_scope(ctx.db_url) as session:
        found = session.execute(
            select(Attempt.id, Attempt.asset_path)
            .join(Shot, Shot.id == Attempt.shot_id)
            .where(Attempt.id == attempt_id, Shot.job_id == job_id)
        ).first()
    if found is None:
        raise NotFoundError(f"job {job_id} has no attempt {attempt_id}")
    return stored(ctx, found[1], f"attempt {attempt_id}")


def _has_file(ref: str | None) -> bool:
    """Whether the clip is kept: a file, or an object of the asset store (taken as kept: the
    drill-down does not ask the bucket once per attempt)."""
    return bool(ref) and (is_remote(ref or "") or Path(ref or "").is_file())


def _attempt(job_id: str, attempt: Attempt, cost: AttemptCost | None) -> dict[str, Any]:
    verdict = views.without_paths(attempt.verdict or {})
    base = f"/v1/jobs/{job_id}/attempts/{attempt.id}"
    clip = _has_file(attempt.asset_path)
    figures = aggregates.summarise(str(attempt.id), [cost] if cost else []).to_dict()
    return {
        "id": attempt.id,
        "number": attempt.number,
        "model": attempt.model_id,
        "provider": attempt.provider,
        "status": attempt.status,
        "fallback": bool(cost and cost.fallback),
        "action": verdict.get("action"),
        "score": verdict.get("score"),
        "local_score": verdict.get("local_score"),
        "judge_score": verdict.get("judge_score"),
        "drivers": verdict.get("drivers", []),
        "findings": verdict.get("findings", []),
        "notes": verdict.get("notes", []),
        "error_kind": attempt.error_kind or (cost.error_kind if cost else None),
        "error": views.without_paths(attempt.error),
        "render_seconds": attempt.render_seconds,
        "quoted_usd": attempt.quoted_usd,
        "spend_usd": figures["spend_usd"],
        "waste_usd": figures["waste_usd"],
        "billing_uncertain": bool(cost and cost.billing_uncertain),
        "created_at": views.aware(attempt.created_at).isoformat(),
        "clip_url": f"{base}/clip" if clip else None,
        "thumb_url": f"{base}/thumb" if clip else None,
    }


def _shot(
    job_id: str,
    shot: Shot,
    spec: dict[str, Any],
    attempts: list[Attempt],
    costs: dict[int, AttemptCost],
) -> dict[str, Any]:
    verdict = views.without_paths(shot.verdict or {})
    clip = shot.status in SHOT_HAS_CLIP and _has_file(shot.asset_path)
    base = f"/v1/jobs/{job_id}/shots/{shot.key}"
    figures = aggregates.summarise(shot.key, [costs[a.id] for a in attempts if a.id in costs])
    return {
        "id": shot.key,
        "scene": shot.scene_id,
        "prompt": str(spec.get("prompt", "")),
        "seconds": float(spec.get("duration", 0.0)),
        "status": shot.status,
        "model": shot.model_id,
        "action": verdict.get("action"),
        "findings": verdict.get("findings", []),
        "error": views.without_paths(shot.error),
        "kept_from_preview": not attempts and shot.status in SHOT_HAS_CLIP,
        "figures": figures.to_dict(),
        "clip_url": f"{base}/asset" if clip else None,
        "thumb_url": f"{base}/thumb" if clip else None,
        "attempts": [_attempt(job_id, a, costs.get(a.id)) for a in attempts],
    }


def _commits(session: Session, job_id: str) -> dict[str, Any]:
    found = commits_of(session, job_id)
    preview = found[0].preview_job_id if found else None
    return {
        "preview_job_id": preview if preview != job_id else None,
        "final_job_ids": [c.final_job_id for c in found] if preview == job_id else [],
    }


def job_detail(db_url: str, job_id: str) -> dict[str, Any]:
    """The drill-down of one job (the caller has checked it may see it)."""
    with session_scope(db_url) as session:
        job = session.get_one(Job, job_id)
        rows = aggregates.load(session, CostFilter(job_ids=(job_id,)))
        costs = {r.attempt_id: r for r in rows}
        specs = {s["id"]: s for scene in job.storyboard["scenes"] for s in scene["shots"]}
        shots = [
            _shot(job_id, shot, specs.get(shot.key, {}), jobs.attempts_of(session, shot.id), costs)
            for shot in jobs.shots_of(session, job_id)
        ]
        delivered = job.status == JobStatus.DELIVERED
        return views.job_header(job) | {
            "error": views.without_paths(job.error),
            "budget_usd": job.budget_usd,
            "totals": aggregates.summarise("all", rows).to_dict(),
            "commits": _commits(session, job_id),
            "links": views.links(job_id, delivered)
            | ({"review": f"/jobs/{job_id}/review"} if job.mode == "preview" else {}),
            "shots": shots,
        }
