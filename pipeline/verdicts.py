"""After the provider: fetch the asset, run the quality gate, book the cost, accept or reject."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from adapters.base import SpeaksDialogue
from adapters.errors import ProviderError
from foundation.settings import Settings
from foundation.states import ATTEMPT_ENDED, AttemptStatus, ShotStatus
from ledger import billing
from ledger import service as ledger
from media.priority import make_nicer
from pipeline import continuity
from pipeline.attempts import attempt_and_shot, record_failure
from pipeline.cache import shot_cache_key
from pipeline.context import RunContext
from pipeline.requests import framed_spec
from pipeline.transitions import attempt_to, shot_to
from quality import gate
from quality.expectation import ClipExpectation
from quality.image_safety import frame_safety_from
from quality.repair import trim
from registry import BillingOutcome
from store.db import connection_scope, session_scope
from store.models import Attempt, Job, Shot
from store.records import RouteCandidate, ShotRoute, StoredRequest

log = logging.getLogger(__name__)
WARM_NICE = 5
"""How much nicer the thread that loads the gate's models runs: as nice as the CPU pool's steps
(``dispatch.MEDIA_NICE``), which may wait for what it loads."""
_warmed: set[str] = set()  # what warm_gate has started loading in this process
_warm_lock = threading.Lock()

GATED_BY_ACTION = {"accept": AttemptStatus.ACCEPTED, "repair": AttemptStatus.REPAIRED}
"""The attempt's status after each gate action (any other action rejects the clip)."""


_TO_FETCH = (  # built once: a statement's construction costs more than SQLite takes to run it
    select(
        Attempt.asset_path, Attempt.provider, Attempt.provider_job_id, Attempt.created_at,
        Shot.job_id, Job.tenant,
    )
    .join(Shot, Shot.id == Attempt.shot_id)
    .join(Job, Job.id == Shot.job_id)
    .where(Attempt.id == bindparam("attempt"))
)  # fmt: skip


def fetch(ctx: RunContext, attempt_id: int, submitted_at: float | None = None) -> bool:
    """Download the result into the asset store (once). False when it could not be fetched.

    The attempt's render time counts from ``submitted_at`` (epoch seconds; default: when it was
    opened). A wait for a concurrency slot must not count: the poll schedule learns from render
    times, and a render time that grows with the queue delays the polls that free the slots."""
    with connection_scope(ctx.db_url) as conn:  # a read of five columns: no ORM rows
        asset_path, provider, provider_job, created, shot_job, tenant = conn.execute(
            _TO_FETCH, {"attempt": attempt_id}
        ).one()
    if asset_path:
        return True
    job_id, dest = provider_job or "", ctx.asset_dir(shot_job)
    started = submitted_at if submitted_at is not None else created.timestamp()
    try:
        asset = ctx.adapter(provider).fetch(job_id, dest)
    except ProviderError as exc:
        record_failure(ctx, attempt_id, exc)
        return False
    extends = any(  # only an answer that repeats the sent clip (``extend.returns``) is cut
        m.extend is not None and m.extend.returns == "combined"
        for m in ctx.registry.models
        if m.provider == provider
    )
    extended = _extended_clip(ctx, attempt_id) if extends else None  # other providers: no read
    if extended is not None:  # the provider returned the sent clip + the extension: keep the tail
        asset = continuity.extension_tail(asset, extended, asset.path.with_suffix(".tail.mp4"))
    stored = ctx.assets.put(asset.path, f"{tenant}/{shot_job}")
    with session_scope(ctx.db_url) as session:
        attempt, shot = attempt_and_shot(session, attempt_id)
        ctx.health.record_success(attempt.model_id)
        if attempt.status in ATTEMPT_ENDED:  # closed by its job while downloading
            return False
        attempt.asset_path = stored
        attempt.render_seconds = max(0.0, time.time() - started)
        rules = ctx.registry.billing(attempt.provider)
        charge = billing.charge_for(
            rules, BillingOutcome.SUCCESS, attempt.quoted_usd, asset.provider_cost_usd
        )
        attempt_to(
            session,
            attempt,
            AttemptStatus.FETCHED,
            shot=shot,
            model=attempt.model_id,
            cost_usd=charge.usd,
            seconds=asset.duration_s,
        )
        ledger.settle(session, shot.job_id, attempt, charge.usd, charge)
    return True


def _extended_clip(ctx: RunContext, attempt_id: int) -> Path | None:
    """The clip an extension attempt sent (the previous part's), or None for any other."""
    with session_scope(ctx.db_url) as session:
        _, shot = attempt_and_shot(session, attempt_id)
        job = session.get_one(Job, shot.job_id)
        clip = continuity.extended_clip(session, job.storyboard, shot)
        return ctx.assets.local(clip) if clip else None


def _candidate_of(attempt: Attempt) -> RouteCandidate:
    """The candidate the attempt rendered, as its stored request has it."""
    request = StoredRequest.from_json(attempt.request or {})
    return RouteCandidate(
        model_id=attempt.model_id,
        provider=attempt.provider,
        provider_model=request.provider_model,
        quote_usd=attempt.quoted_usd,
        duration_s=request.duration_s,
        width=request.width,
        height=request.height,
        fps=request.fps,
        audio=request.audio,
    )


def expectation(
    ctx: RunContext, attempt: Attempt, spec: dict[str, object], mode: str
) -> ClipExpectation:
    request = StoredRequest.from_json(attempt.request or {})
    # The router may have adapted a shot to a model that renders silent; the stitcher then lays a
    # silent track, so audio is required only when the adapted request asks for it.
    needs_audio = spec.get("audio", "none") != "none" and request.audio
    model = ctx.registry.get(attempt.model_id)
    tier = "draft" if mode == "preview" else "standard"  # gate_tiers(mode) lists these
    if mode == "final" and model.tier == "premium":
        tier = "premium"
    if model.inputs.holds_frame:  # a keyframes preview's still: held on purpose
        tier = "still"
    return ClipExpectation(
        duration_s=request.duration_s,
        width=request.width,
        height=request.height,
        fps=request.fps,
        audio="required" if needs_audio else "any",
        tier=tier,
        prompt=str(spec.get("prompt", "")),
        dialogue=str(spec.get("dialogue") or "") or None,
        speech=_speech(spec, bool(request.audio), ctx.adapter(attempt.provider)),
    )


def _speech(
    spec: dict[str, object], rendered_audio: bool, adapter: object
) -> Literal["required", "none", "any"]:
    """A line must be heard when the storyboard has one, the model renders sound and its adapter
    sends it the line; a shot without a line must carry no speech. A silent render, or a line the
    model was never given, is not listened to."""
    if not rendered_audio:
        return "any"
    if not (spec.get("audio") == "dialogue" and spec.get("dialogue")):
        return "none"
    speaks = isinstance(adapter, SpeaksDialogue) and adapter.speaks_dialogue
    return "required" if speaks else "any"


@dataclass(frozen=True)
class _GateInput:
    asset: Path
    stored: str  # the asset's reference in the asset store
    scope: str
    expect: ClipExpectation
    spec: dict[str, Any]
    same_model_tries: int
    can_escalate: bool
    final: bool


def _gate_input(ctx: RunContext, session: Session, attempt: Attempt, shot: Shot) -> _GateInput:
    job = session.get_one(Job, shot.job_id)
    spec = framed_spec(session, job, shot)  # a keyframe is an input of the cache key
    tried = session.scalars(select(Attempt.model_id).where(Attempt.shot_id == shot.id)).all()
    chain = ShotRoute.from_json(shot.route).chain
    later = chain[chain.index(attempt.model_id) + 1 :] if attempt.model_id in chain else []
    return _GateInput(
        asset=ctx.assets.local(attempt.asset_path or ""),
        stored=attempt.asset_path or "",
        scope=f"{job.tenant}/{job.id}",
        expect=expectation(ctx, attempt, spec, job.mode),
        spec=spec,
        same_model_tries=sum(1 for model in tried if model == attempt.model_id),
        can_escalate=bool(later),
        final=job.mode == "final",
    )


def judge(ctx: RunContext, attempt_id: int) -> str:
    """Gate the fetched clip; returns the verdict action and records it on the attempt and shot."""
    with session_scope(ctx.db_url) as session:
        attempt, shot = attempt_and_shot(session, attempt_id)
        if attempt.status in ATTEMPT_ENDED:
            return str((attempt.verdict or {}).get("action", attempt.status))
        given = _gate_input(ctx, session, attempt, shot)
        if attempt.status == AttemptStatus.FETCHED:
            attempt_to(session, attempt, AttemptStatus.GATING, shot=shot)
    verdict = gate.evaluate(
        given.asset,
        given.expect,
        scorer=ctx.judge_scorer() if given.final else None,
        attempt=given.same_model_tries,
        can_escalate=given.can_escalate,
        safety=frame_safety_from(ctx.settings),
    )
    kept = given.stored
    if verdict.action == "repair" and verdict.repair is not None:
        asset = given.asset
        repaired = trim(asset, verdict.repair, asset.with_name(f"{asset.stem}.repaired.mp4"))
        kept = ctx.assets.put(repaired, given.scope)
    _record_verdict(ctx, attempt_id, verdict, kept, given.spec)
    return verdict.action


RETAKE_STRIDE = 0x9E3779B1
"""Odd and large: a shot's successive takes' seeds stay apart from the consistency re-render's
``seed + 1`` (``consistency.reset_for_rerender``)."""


def retake_seed(seed: int) -> int:
    """The seed of the take after one the gate rejected and retries on the same model: another
    picture, as a retry is meant to be (a seeded model renders the same request much the same, the
    animatic byte for byte, and the retry repeated the rejected clip). The shot's route keeps it,
    so a fallback, a resumed attempt and a commit of the preview use the seed of the take."""
    return (seed + RETAKE_STRIDE) % 2**31


def _record_verdict(
    ctx: RunContext, attempt_id: int, verdict: gate.Verdict, kept: str, spec: dict[str, Any]
) -> None:
    with session_scope(ctx.db_url) as session:
        attempt, shot = attempt_and_shot(session, attempt_id)
        if attempt.status != AttemptStatus.GATING:  # closed by its job while gating
            return
        attempt.verdict = verdict.to_dict()
        accepted = verdict.action in ("accept", "repair")
        attempt_to(
            session,
            attempt,
            GATED_BY_ACTION.get(verdict.action, AttemptStatus.REJECTED),
            shot=shot,
            model=attempt.model_id,
            action=verdict.action,
            score=verdict.score,
            findings=[f.code for f in verdict.drivers],
        )
        if verdict.judge_cost_usd:
            ledger.book(session, shot.job_id, attempt, "judge", verdict.judge_cost_usd)
        if verdict.action == "retry":
            route = ShotRoute.from_json(shot.route)
            if route.seed is not None:
                shot.route = route.with_seed(retake_seed(route.seed)).to_json()
        if accepted and shot.status == ShotStatus.RENDERING:
            shot.asset_path, shot.model_id = kept, attempt.model_id
            shot.verdict = verdict.to_dict()
            candidate = _candidate_of(attempt)
            shot.cache_key = shot_cache_key(session, spec, shot, candidate, ctx.assets.local)
            shot_to(session, shot, ShotStatus.ACCEPTED, model=attempt.model_id)


def gate_tiers(mode: str) -> set[str]:
    """The gate tiers a job's attempts may be judged in (``expectation``'s rule)."""
    return {"draft", "still"} if mode == "preview" else {"standard", "premium"}


def warm_gate(settings: Settings, mode: str, prompts: list[str]) -> threading.Thread | None:
    """Load the models a job's gates will run (the image safety classifier; OCR engines for
    ``cpu_workers`` parallel gates when its tiers watch for text or a prompt quotes some) on a
    background thread, each once per process: called when a job with shots to render starts, so
    the loading (about 1.5 s of CPU per model) overlaps the renders instead of delaying the first
    verdicts. A failure is only logged: the gate meets it again and reports it. Returns the
    loading thread, None when everything wanted was loaded or is loading already.

    The thread is not a daemon: a job can end before the loading does (its only shot failed at
    its tts stage), and a process that then exits must wait for it. A daemon thread inside
    onnxruntime while the interpreter finalises aborts the process (``terminate called without
    an active exception``, exit 134) instead of exiting with the command's code."""
    wanted = {"safety"} | ({"text"} if gate.reads_text(gate_tiers(mode), prompts) else set())
    with _warm_lock:
        todo = wanted - _warmed
        _warmed.update(todo)
    if not todo:
        return None

    def load() -> None:
        make_nicer(threading.get_native_id(), WARM_NICE)
        safety = frame_safety_from(settings) if "safety" in todo else None
        try:
            gate.warm(safety, readers=settings.cpu_workers, text="text" in todo)
        except Exception as exc:  # a damaged wheel, onnxruntime's own errors
            log.warning("the gate's models could not be loaded ahead: %s", exc)

    thread = threading.Thread(target=load, name="gate-warm", daemon=False)
    thread.start()
    return thread
