"""The voice a commit's kept shot was approved with.

A shot kept at preview goes into the final job with its preview clip, and its line is voiced there
again (the final's edit mixes it). Routed anew, the line could go to another model than the one the
reviewer heard: the preview's model retired since (OpenAI's speech models shut down on
2027-01-06) or another ranks first now, and the kept shot came out in a different voice, paid again.
So a kept line is first offered to the model that voiced it in the preview, whose stored speech
the stage reuses for nothing; the route's chain follows it, should that speech be gone.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from foundation.states import AttemptStatus, Stage
from foundation.storyboard import Storyboard
from pipeline import stage_tries, voices
from pipeline.context import RunContext
from router import StageCandidate, StageDecision
from store.db import session_scope
from store.models import Attempt, JobCommit, Shot

KEPT = "kept"
"""The ``health`` of a kept candidate: its try only reuses the stored speech, never calls."""


def kept_speeches(
    ctx: RunContext, board: Storyboard, preview_id: str, tenant: str, approved: Collection[str]
) -> dict[str, StageCandidate]:
    """The shots of ``board`` (a preview's) kept by a commit whose line the final says in the
    preview's stored speech, each with its ``kept_speech``: planning does not look their voice
    up again (after OpenAI's speech shutdown their stock ElevenLabs voice, which an account may
    lack, refused the commit), and the quote books them reused."""
    lines = [line for line in voices.lines_of(board) if line.shot_id not in approved]
    found = {line.shot_id: kept_speech(ctx, line, preview_id, tenant) for line in lines}
    return {key: kept for key, kept in found.items() if kept is not None}


def preview_of_kept(final_id: str, shot_key: str, db_url: str) -> str | None:
    """The preview job whose clip ``shot_key`` of final job ``final_id`` keeps, if it does."""
    with session_scope(db_url) as session:
        commit = session.scalars(
            select(JobCommit).where(JobCommit.final_job_id == final_id)
        ).first()
        return commit.preview_job_id if commit and shot_key in (commit.kept or []) else None


def kept_speech(
    ctx: RunContext, line: voices.Line, preview_id: str, tenant: str
) -> StageCandidate | None:
    """The preview's model for ``line``, as a candidate whose speech is stored (the stage reuses
    it for $0), or None when the preview has no accepted speech of this line left."""
    with session_scope(ctx.db_url) as session:
        rows = session.execute(
            select(Attempt.model_id, Attempt.request)
            .join(Shot, Shot.id == Attempt.shot_id)
            .where(Shot.job_id == preview_id, Shot.key == line.shot_id)
            .where(Attempt.stage == Stage.TTS, Attempt.status == AttemptStatus.ACCEPTED)
            .order_by(Attempt.id.desc())
        ).all()
    for model_id, request in rows:
        said = request or {}
        if said.get("text") != line.text or said.get("voice_description") != line.voice:
            continue
        if model_id not in ctx.registry:
            continue
        spec = ctx.registry.get(model_id)
        candidate = StageCandidate(
            spec.id, spec.provider, spec.provider_model, 0.0, KEPT, spec.caps
        )
        key = voices.keyed(ctx.registry, line, candidate)[1]
        if stage_tries.cached_try(ctx, key, tenant, Stage.TTS) is not None:
            return candidate
    return None


def first(kept: StageCandidate, decision: StageDecision) -> StageDecision:
    """``decision`` with ``kept`` ahead of its chain (once)."""
    rest = tuple(c for c in decision.chain if c.model_id != kept.model_id)
    return StageDecision(decision.kind, (kept, *rest), decision.rejected)
