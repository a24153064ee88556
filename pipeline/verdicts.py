"""After the provider: fetch the asset, run the quality gate, book the cost, accept or reject."""

from __future__ import annotations

import time
from pathlib import Path

from adapters.errors import ProviderError
from ledger import service as ledger
from pipeline import events
from pipeline.attempts import _record_failure, shot_spec
from pipeline.cache import cache_key
from pipeline.context import RunContext
from quality import gate
from quality.repair import trim
from store.db import session_scope
from store.models import Attempt, Job, Shot


def fetch(ctx: RunContext, attempt_id: int) -> bool:
    """Download the result into the asset store (once). False when it could not be fetched."""
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        if attempt.asset_path:
            return True
        shot = session.get_one(Shot, attempt.shot_id)
        provider, job_id, dest = (
            attempt.provider,
            attempt.provider_job_id or "",
            ctx.asset_dir(shot.job_id),
        )
        created = attempt.created_at
    try:
        asset = ctx.adapter(provider).fetch(job_id, dest)
    except ProviderError as exc:
        _record_failure(ctx, attempt_id, exc)
        return False
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        shot = session.get_one(Shot, attempt.shot_id)
        ctx.health.record_success(attempt.model_id)
        attempt.asset_path = str(asset.path)
        attempt.status = "fetched"
        attempt.render_seconds = max(0.0, time.time() - created.timestamp())
        cost = (
            asset.provider_cost_usd if asset.provider_cost_usd is not None else attempt.quoted_usd
        )
        ledger.settle(session, shot.job_id, attempt, cost)
        events.emit(
            session,
            shot.job_id,
            "attempt.fetched",
            shot.key,
            attempt=attempt.number,
            model=attempt.model_id,
            cost_usd=cost,
            seconds=asset.duration_s,
        )
    return True


def _candidate_of(attempt: Attempt) -> dict[str, object]:
    request = attempt.request or {}
    keys = ("duration_s", "width", "height", "fps", "audio")
    return {"model_id": attempt.model_id} | {key: request.get(key) for key in keys}


def expectation(
    ctx: RunContext, attempt: Attempt, spec: dict[str, object], mode: str
) -> gate.ClipExpectation:
    request = attempt.request or {}
    needs_audio = spec.get("audio", "none") != "none"
    return gate.ClipExpectation(
        duration_s=float(request["duration_s"]),
        width=int(request["width"]),
        height=int(request["height"]),
        fps=float(request["fps"]),
        audio="required" if needs_audio else "any",
        tier="draft" if mode == "preview" else "standard",
        prompt=str(spec.get("prompt", "")),
    )


def judge(ctx: RunContext, attempt_id: int) -> str:
    """Gate the fetched clip; returns the verdict action and records it on the attempt and shot."""
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        if attempt.status in ("accepted", "repaired", "rejected"):
            return str((attempt.verdict or {}).get("action", attempt.status))
        shot = session.get_one(Shot, attempt.shot_id)
        job = session.get_one(Job, shot.job_id)
        spec = shot_spec(job, shot.key)
        expect = expectation(ctx, attempt, spec, job.mode)
        asset = Path(attempt.asset_path or "")
        attempt.status = "gating"
    verdict = gate.evaluate(asset, expect)
    kept = asset
    if verdict.action == "repair" and verdict.repair is not None:
        kept = trim(asset, verdict.repair, asset.with_name(f"{asset.stem}.repaired.mp4"))
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        shot = session.get_one(Shot, attempt.shot_id)
        attempt.verdict = verdict.to_dict()
        accepted = verdict.action in ("accept", "repair")
        attempt.status = {"accept": "accepted", "repair": "repaired"}.get(
            verdict.action, "rejected"
        )
        if accepted:
            shot.status, shot.asset_path, shot.model_id = "accepted", str(kept), attempt.model_id
            shot.verdict = verdict.to_dict()
            shot.cache_key = cache_key(spec, _candidate_of(attempt))
        events.emit(
            session,
            shot.job_id,
            "attempt.gated",
            shot.key,
            attempt=attempt.number,
            model=attempt.model_id,
            action=verdict.action,
            score=verdict.score,
            findings=[f.code for f in verdict.drivers],
        )
        if accepted:
            events.emit(session, shot.job_id, "shot.accepted", shot.key, model=attempt.model_id)
    return verdict.action
