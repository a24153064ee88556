"""A character's reference sheet, run: the step ``sheet`` of the step graph (``pipeline.flow``),
taken by a keyframed shot before its keyframe when a character it features has no reference
images and no sheet drawn yet in the job (``pipeline.sheets``: which shot owns the sheet, and
why the others wait for it).

Each try is an attempt of the owner shot with ``stage == "sheet"`` (numbered below zero, as the
tts and keyframe tries), ``request.character`` naming the character, its quote reserved and its
cost settled by the ledger, with its events. The image is cached per tenant by
``sheets.cache_key`` (kept as the attempt's ``provider_job_id``): an unchanged character reuses
its stored sheet for nothing (``request.saved_usd``: the quote not spent, set by
``stage_tries.open_try``). The check: the image
decodes, is not blank, and passes the image safety classifier; a refusal or a failed check moves
to the next model of the chain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import cv2
from sqlalchemy.orm import Session

from adapters.images import ImageRequest
from foundation.states import SHOT_ENDED, Stage
from foundation.storyboard import Storyboard
from pipeline import sheets, stage_tries
from pipeline.context import RunContext
from pipeline.keyframe_stage import BLANK_STD, Drawn, draw_image
from quality.screening import screener_for
from router import StageCandidate
from store.db import session_scope
from store.models import Attempt, Job, Shot

STAGE = Stage.SHEET


def _missing(
    session: Session, job_id: str, board: dict[str, Any], spec: dict[str, Any]
) -> list[str]:
    """The characters of ``spec`` that need a sheet the job has not drawn yet (no query and no
    validation when none of them lacks reference images)."""
    bare = {c["id"] for c in board.get("characters") or [] if not c.get("reference_images")} & set(
        spec.get("characters") or []
    )
    if not bare:
        return []
    wanted = [s for s in sheets.sheets_of(Storyboard.model_validate(board)) if s.character in bare]
    done = sheets.drawn(session, job_id, wanted)
    return [s.character for s in wanted if s.character not in done]


def status(session: Session, shot: Shot, board: dict[str, Any]) -> Literal["sheet", "wait"] | None:
    """For a shot whose keyframe is pending: ``sheet`` when it owns a sheet still to draw,
    ``wait`` when another shot owns the sheet it waits for, None when its sheets are drawn."""
    missing = _missing(session, shot.job_id, board, stage_tries.spec_entry(board, shot.key))
    if not missing:
        return None
    owners = {sheets.owner(session, shot.job_id, board, cid) for cid in missing}
    return "sheet" if shot.id in owners else "wait"


def draw(ctx: RunContext, shot_pk: int) -> float:
    """Draw every sheet the shot owns and the job lacks, each along its image chain; the shot
    fails (stage ``sheet``) when no model delivers one. Returns 0 when done, else the seconds to
    wait for a model's slot. Idempotent, as the keyframe stage."""
    with session_scope(ctx.db_url) as session:
        shot = session.get_one(Shot, shot_pk)
        job = session.get_one(Job, shot.job_id)
        board = job.storyboard
        owned = [
            cid
            for cid in _missing(session, job.id, board, stage_tries.spec_entry(board, shot.key))
            if sheets.owner(session, job.id, board, cid) == shot_pk
        ]
        owner = stage_tries.Owner.of(job, shot)
    for cid in owned:
        sheet = sheets.sheet_of(board, cid)
        assert sheet is not None
        wait = _draw_one(ctx, shot_pk, owner, sheet)
        if wait > 0:
            return wait
        with session_scope(ctx.db_url) as session:
            if session.get_one(Shot, shot_pk).status in SHOT_ENDED:
                return 0.0
    return 0.0


def _draw_one(
    ctx: RunContext, shot_pk: int, owner: stage_tries.Owner, sheet: sheets.Sheet
) -> float:
    with session_scope(ctx.db_url) as session:
        tries = sheets.job_tries(session, owner.id, sheet.character, sheet.prompt)
        stage_tries.close_interrupted(session, owner.id, tries, STAGE)
        tried = stage_tries.ended_on(tries)
        waiting = stage_tries.reserved_by_model([a for a in tries if a.shot_id == shot_pk])
    providers = sheets.image_stage_providers(owner.providers, ctx.settings)
    decision = sheets.route_sheet(ctx, sheet, providers, owner.mode)

    def attempt_one(candidate: StageCandidate, reserved: int | None) -> stage_tries.Outcome:
        return _try(ctx, shot_pk, owner, sheet, candidate, reserved)

    return stage_tries.walk_chain(ctx, shot_pk, decision, tried, waiting, attempt_one, STAGE)


def _try(
    ctx: RunContext,
    shot_pk: int,
    owner: stage_tries.Owner,
    sheet: sheets.Sheet,
    candidate: StageCandidate,
    reserved: int | None,
) -> stage_tries.Outcome:
    """One model's try: None when the sheet is drawn, the seconds to wait for the model's slot,
    or (reason, whether to stop trying)."""
    spec = ctx.registry.get(candidate.model_id)
    target, key = sheets.keyed(ctx.registry, sheet, candidate.model_id)
    cached = stage_tries.cached_try(ctx, key, owner.tenant, STAGE)
    request = {
        "stage": STAGE, "character": sheet.character, "prompt": sheet.prompt,
        "size": target.size, "aspect": target.aspect, "cache_key": key,
        "reused_from": cached and cached[0],
    }  # fmt: skip
    admitted = stage_tries.admit_try(
        ctx, shot_pk, owner, candidate, request, STAGE, reserved, cached,
        lambda attempt_id, ref: _check(ctx, attempt_id, owner, ctx.assets.local(ref), ref, 0.0),
    )  # fmt: skip
    if not isinstance(admitted, stage_tries.Admitted):
        return admitted
    attempt_id = admitted.attempt_id

    def asked() -> ImageRequest:
        return ImageRequest(
            candidate.provider_model, sheet.prompt, size=target.size, aspect=target.aspect,
            params=dict(spec.params),
        )  # fmt: skip

    name = f"sheet-{sheet.character}-{key[:12]}"
    done = draw_image(ctx, attempt_id, owner, candidate, asked, name, key, STAGE)
    if not isinstance(done, Drawn):
        return done
    return _check(ctx, attempt_id, owner, done.raw, done.ref, done.cost)


def problem(ctx: RunContext, raw: Path) -> str | None:
    """Why the drawn image cannot be a character's reference (None: it can)."""
    pixels = cv2.imread(str(raw), cv2.IMREAD_COLOR)
    if pixels is None:
        return "the sheet is not a decodable image"
    if float(pixels.std()) < BLANK_STD:
        return "the sheet is blank"
    images = screener_for(ctx.settings, hosted=False).images
    verdict = images.check(raw) if images is not None else None
    if verdict is not None and verdict.refused:
        return f"the sheet is refused by rule image-safety ({verdict.reason()})"
    return None


def _check(
    ctx: RunContext, attempt_id: int, owner: stage_tries.Owner, raw: Path, ref: str, cost: float
) -> tuple[str, bool] | None:
    """The sheet checked; the attempt accepted (its asset: the stored sheet) or rejected, and
    settled."""
    why = problem(ctx, raw)
    with session_scope(ctx.db_url) as session:
        character = (session.get_one(Attempt, attempt_id).request or {})["character"]
    details = {"character": character}
    return stage_tries.conclude(ctx, attempt_id, owner, STAGE, (ref, cost), why, details=details)
