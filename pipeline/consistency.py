"""Cross-shot consistency before stitching: colour and exposure continuity at each join and within
each scene, and each shot featuring a character against the character's reference images (given,
or the sheet drawn in the job), from the same remembered profiles plus one read of each reference.
Reported always; with ``consistency: rerender`` the offending shots are re-rendered once with a new
seed."""

from __future__ import annotations

from contextlib import suppress
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, aliased

from foundation.errors import NotFoundError
from foundation.states import ShotStatus
from pipeline import assets, events, sheets, stage_tries
from pipeline.context import RunContext
from pipeline.transitions import shot_to
from quality.consistency import (
    ColourProfile,
    Palette,
    check_joins,
    check_references,
    profile,
    still_palette,
)
from quality.errors import QualityError
from store import jobs
from store.db import connection_scope, session_scope
from store.models import Event, Job, Shot
from store.records import ShotRoute


@lru_cache(maxsize=512)
def _profile(path: str, mtime_ns: int) -> ColourProfile:
    return profile(Path(path))


def profile_of(path: Path) -> ColourProfile:
    """The clip's colour profile, decoded once per file version and remembered."""
    return _profile(str(path), path.stat().st_mtime_ns)


_SIBLINGS = aliased(Shot)
_WARM = select(  # the clip, its verdict, and whether its job has no other shot (a hot path)
    Shot.asset_path,
    Shot.verdict,
    select(func.count(_SIBLINGS.id)).where(_SIBLINGS.job_id == Shot.job_id).scalar_subquery() == 1,
).where(Shot.id == bindparam("shot"))


def stored_profile(asset_path: str, verdict: dict[str, Any] | None) -> ColourProfile | None:
    """The profile the gate measured in its own decode of the kept clip, when the verdict has one
    (a clip accepted before the gate kept profiles, or reused from elsewhere, may not)."""
    data = (verdict or {}).get("colour")
    if not isinstance(data, dict):
        return None
    try:
        return ColourProfile.from_json(Path(asset_path), data)
    except (KeyError, TypeError, ValueError):
        return None


def warm(ctx: RunContext, shot_pk: int) -> None:
    """Profile an accepted clip as soon as it arrives, unless its gate already did, so the check
    before stitching (on the critical path) only compares profiles instead of decoding clips."""
    with connection_scope(ctx.db_url) as conn:
        path, verdict, alone = conn.execute(_WARM, {"shot": shot_pk}).one()
    if path and not alone and stored_profile(path, verdict) is None:
        with suppress(QualityError, OSError):
            profile_of(ctx.assets.local(path))


def _profile_of_shot(ctx: RunContext, shot: Shot) -> ColourProfile:
    path = shot.asset_path or ""
    return stored_profile(path, shot.verdict) or profile_of(ctx.assets.local(path))


def check(ctx: RunContext, job_id: str) -> list[int]:
    """Compare the accepted clips with each other and each clip featuring a character with the
    character's references (given, or its generated sheet); record a ``job.consistency`` event;
    return offending shot pks."""
    with session_scope(ctx.db_url) as session:
        shots = jobs.shots_of(session, job_id)
        board = session.get_one(Job, job_id).storyboard
        references = _references(ctx, session, job_id, board)
    featured = {
        index: [(cid, ref) for cid in _featured(board, s.key) for ref in references.get(cid, [])]
        for index, s in enumerate(shots)
    }
    featured = {index: refs for index, refs in featured.items() if refs}
    if (len(shots) < 2 and not featured) or any(not s.asset_path for s in shots):
        return []
    try:
        profiles = [_profile_of_shot(ctx, s) for s in shots]
        paths = [p.path for p in profiles]
        reports = check_joins(paths, [s.scene_id for s in shots], profiles=profiles)
        looks = {
            index: [(cid, _still(ref)) for cid, ref in refs] for index, refs in featured.items()
        }
        matches = check_references(profiles, looks)
    except (QualityError, NotFoundError, OSError):
        return []
    offending = sorted(
        {shots[r.offending].id for r in reports if r.flagged and r.offending is not None}
        | {shots[m.shot].id for m in matches if m.flagged}
    )
    pairs = [
        _pair(shots[r.a].key, shots[r.b].key, r.kind, r.score, r.flagged, r.message)
        for r in reports
    ]
    pairs += [
        _pair(shots[m.shot].key, m.character, "reference", m.present, m.flagged, m.message)
        for m in matches
    ]
    with session_scope(ctx.db_url) as session:
        events.emit(
            session,
            job_id,
            "job.consistency",
            pairs=pairs,
            offending=[s.key for s in shots if s.id in offending],
        )
    return offending


def _pair(a: str, b: str, kind: str, score: float, flagged: bool, message: str) -> dict[str, Any]:
    """A compared pair as the event carries it (``b``: a character for a ``reference`` pair)."""
    return {
        "a": a, "b": b, "kind": kind, "score": round(score, 3), "flagged": flagged,
        "message": message,
    }  # fmt: skip


def _featured(board: dict[str, Any], key: str) -> list[str]:
    return list(stage_tries.spec_entry(board, key).get("characters") or [])


def _references(
    ctx: RunContext, session: Session, job_id: str, board: dict[str, Any]
) -> dict[str, list[Path]]:
    """Each character's reference images as local files: those given (a URL is not fetched
    here), else its sheet drawn in the job (``pipeline.sheets``)."""
    found: dict[str, list[Path]] = {}
    for character in board.get("characters") or []:
        for ref in character.get("reference_images") or []:
            if assets.is_remote(ref):
                found.setdefault(character["id"], []).append(ctx.assets.local(ref))
            elif not ref.startswith(("http://", "https://")) and Path(ref).is_file():
                found.setdefault(character["id"], []).append(Path(ref))
    for cid, ref in sheets.drawn_for(session, job_id, board).items():
        found[cid] = [ctx.assets.local(ref)]
    return found


@lru_cache(maxsize=256)
def _still_at(path: str, mtime_ns: int) -> Palette:
    return still_palette(Path(path))


def _still(path: Path) -> Palette:
    """A reference's look, read once per file version and remembered."""
    return _still_at(str(path), path.stat().st_mtime_ns)


def already_rerendered(ctx: RunContext, job_id: str) -> bool:
    with session_scope(ctx.db_url) as session:
        return (
            session.scalar(
                select(Event.id).where(
                    Event.job_id == job_id, Event.kind == "shot.consistency_rerender"
                )
            )
            is not None
        )


def reset_for_rerender(ctx: RunContext, shot_pks: list[int]) -> None:
    """Send shots back to ``planned`` with a new seed, keeping their attempts and costs."""
    with session_scope(ctx.db_url) as session:
        for pk in shot_pks:
            shot = session.get_one(Shot, pk)
            route = ShotRoute.from_json(shot.route)
            seed = ((route.seed or 0) + 1) % 2**32
            shot.route = route.with_seed(seed).to_json()
            shot.asset_path = shot.segment = shot.cache_key = shot.verdict = None
            shot_to(session, shot, ShotStatus.PLANNED, event="shot.consistency_rerender", seed=seed)


def wants_rerender(ctx: RunContext, job_id: str) -> bool:
    with session_scope(ctx.db_url) as session:
        return session.get_one(Job, job_id).storyboard.get("consistency") == "rerender"
