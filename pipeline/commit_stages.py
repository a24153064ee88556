"""A commit's quote of the stages its final render runs besides the videos: every tts line, the
character sheets and keyframes of the approved shots, and the job's music bed, each at the
stage's quote (``StageDecision.quote_usd``, the figure ``shotline plan`` prints), or at $0 when
the final will reuse a stored output.

What the final runs and pays for is read the way its stages will read it, with the same
routing and the same cache keys (``voices.keyed``, ``sheets.keyed``, ``keyframes.keyed``,
``music.cache_key``) looked up in the tenant's cache (``stage_tries.cached_try``):
- a tts line is voiced for every voiced shot, the kept ones too (``voice_stage.pending``), and is
  free when the final's first tts model already spoke it (the preview's speech, when the same
  model spoke it);
- a sheet is drawn for each character featured by an approved keyframed shot; free when the
  final's first image model already drew it;
- an approved shot's keyframe is free when the final reuses the preview's approved keyframe
  (``keyframes.approved_candidate``: its cache key unchanged, so its references are the same
  sheets, and still stored) or the first model's is cached; a keyframe conditioned on a sheet the
  final draws anew is quoted (its references' content is not known before they are drawn);
- the bed is free when the final's first music model already composed it.
Routing refusals are raised earlier by the commit's routing (``planning.route``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from foundation.states import Stage
from foundation.storyboard import Mode, Storyboard
from pipeline import keyframes, music, sheets, stage_tries, voices
from pipeline.commit_types import StageLine
from pipeline.context import RunContext
from router import StageCandidate, StageDecision
from store.db import session_scope

JOB_OWNER = "(job)"
"""The owner of the job's own stage (its music bed) in a quote."""


def stage_lines(
    ctx: RunContext,
    board: Storyboard,
    approved: Mapping[str, str],
    preview: tuple[str, str],
    kept: Mapping[str, StageCandidate],
) -> tuple[StageLine, ...]:
    """The stage lines of a final job rendering ``board`` (the final's storyboard) in which the
    ``approved`` shots render again, for the tenant of ``preview`` (its job id, its tenant): each
    with the shot of the preview it renders (itself, or the shot a segment is part of); ``kept``:
    the kept shots said in the preview's speech (``kept_voice.kept_speeches``)."""
    preview_id, tenant = preview
    drawn: dict[str, str] = {}
    found = _voice_lines(ctx, board, kept, tenant)
    found += _sheet_lines(ctx, board, approved, tenant, drawn)
    found += _keyframe_lines(ctx, board, approved, (preview_id, tenant), drawn)
    found += _music_lines(ctx, board, tenant)
    return tuple(found)


def _line(
    stage: Stage, owner: str, decision: StageDecision, reused_by: str | None = None
) -> StageLine:
    """The stage at its quote, or at $0 reused from ``reused_by``'s stored output."""
    if reused_by is not None:
        return StageLine(str(stage), owner, reused_by, 0.0, True, decision.quote_usd)
    return StageLine(str(stage), owner, decision.chain[0].model_id, decision.quote_usd)


def _cached(ctx: RunContext, key: str, tenant: str, stage: Stage) -> str | None:
    """The stored output of the tenant's accepted try with cache key ``key``, or None."""
    hit = stage_tries.cached_try(ctx, key, tenant, stage)
    return None if hit is None else hit[1]


def _voice_lines(
    ctx: RunContext, board: Storyboard, kept: Mapping[str, StageCandidate], tenant: str
) -> list[StageLine]:
    """Each line at its quote, or reused: an unchanged line's stored speech, and a kept shot's
    line in the voice its preview was approved with (``kept``)."""
    decisions = voices.plan_voices(ctx, board, Mode.FINAL)
    found = []
    for line in voices.lines_of(board):
        decision = decisions[line.shot_id]
        if line.shot_id in kept:
            found.append(_line(Stage.TTS, line.shot_id, decision, kept[line.shot_id].model_id))
            continue
        head = decision.chain[0]
        key = voices.keyed(ctx.registry, line, head)[1]
        hit = _cached(ctx, key, tenant, Stage.TTS)
        found.append(_line(Stage.TTS, line.shot_id, decision, head.model_id if hit else None))
    return found


def _sheet_lines(
    ctx: RunContext,
    board: Storyboard,
    approved: Collection[str],
    tenant: str,
    drawn: dict[str, str],
) -> list[StageLine]:
    """The sheets the approved keyframed shots need; ``drawn`` gets the stored sheet of each
    one the final reuses (the reference its keyframes are drawn from)."""
    needed = {
        cid
        for _, shot in board.shots()
        if shot.id in approved and shot.draws_keyframe
        for cid in shot.characters
    }
    decisions = sheets.plan_sheets(ctx, board, Mode.FINAL)
    found = []
    for sheet in sheets.sheets_of(board):
        if sheet.character not in needed:
            continue
        decision = decisions[sheet.character]
        head = decision.chain[0]
        hit = _cached(ctx, sheets.keyed(ctx.registry, sheet, head.model_id)[1], tenant, Stage.SHEET)
        if hit is not None:
            drawn[sheet.character] = hit
        found.append(_line(Stage.SHEET, sheet.character, decision, head.model_id if hit else None))
    return found


def _keyframe_lines(
    ctx: RunContext,
    board: Storyboard,
    approved: Mapping[str, str],
    where: tuple[str, str],
    drawn: dict[str, str],
) -> list[StageLine]:
    """The approved shots' keyframes (``where``: the preview job and the tenant)."""
    preview_id, tenant = where
    decisions = keyframes.plan_keyframes(ctx, board, Mode.FINAL)
    found = []
    for keyframe in keyframes.keyframes_of(board, drawn):
        if keyframe.shot_id not in approved:
            continue
        decision = decisions[keyframe.shot_id]
        reused = None
        if not any(ref.startswith(sheets.PLACEHOLDER) for ref in keyframe.references):
            shown = (preview_id, approved[keyframe.shot_id])
            reused = _reused_keyframe(ctx, keyframe, decision, shown, tenant)
        found.append(_line(Stage.KEYFRAME, keyframe.shot_id, decision, reused))
    return found


def _reused_keyframe(
    ctx: RunContext,
    keyframe: keyframes.Keyframe,
    decision: StageDecision,
    shown: tuple[str, str],
    tenant: str,
) -> str | None:
    """The model whose stored keyframe the final's stage takes (``keyframe_stage.draw``): the
    preview's approved one (``shown``: the preview job and its shot), else the first model's;
    None when it draws one."""
    preview_id, preview_shot = shown
    with session_scope(ctx.db_url) as session:
        found = keyframes.preview_keyframe(session, preview_id, preview_shot, keyframe.prompt)
        approved = keyframes.approved_candidate(ctx, found, ctx.providers)
    if approved is not None:
        model_id, key = approved[0].model_id, approved[1]
        if keyframes.keyed(ctx, keyframe, model_id)[1] == key and _cached(
            ctx, key, tenant, Stage.KEYFRAME
        ):
            return model_id
    head = decision.chain[0].model_id
    key = keyframes.keyed(ctx, keyframe, head)[1]
    return head if _cached(ctx, key, tenant, Stage.KEYFRAME) else None


def _music_lines(ctx: RunContext, board: Storyboard, tenant: str) -> list[StageLine]:
    decision = music.plan_music(ctx, board, Mode.FINAL)
    need = music.need_of(board)
    if decision is None or need is None:
        return []
    head = decision.chain[0]
    hit = _cached(ctx, music.cache_key(need, head), tenant, Stage.MUSIC)
    return [_line(Stage.MUSIC, JOB_OWNER, decision, head.model_id if hit else None)]
