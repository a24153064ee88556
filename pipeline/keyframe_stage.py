"""A shot's keyframe stage, run: the step ``keyframe`` of the step graph (``pipeline.flow``), after
any tts stage and before the shot's video stage, which animates the keyframe (its first frame), so
a keyframe no image model can draw fails the shot before its video is paid for.

Each try is an attempt row of the shot with ``stage == "keyframe"``, numbered below zero (shared
with the tts stage), its quote reserved and its cost settled by the ledger, with its events and
``request.stage == "keyframe"`` — the tts stage's pattern (``pipeline.voice_stage``). The image is
cached by the hash of its inputs (``keyframes.cache_key``: prompt, references' content, model,
size; kept as the attempt's ``provider_job_id``): an unchanged shot re-rendered in the tenant
reuses the stored keyframe for nothing. The check: the image decodes, is brought to the video's
frame (``adapters.image_port.first_frame``: centre crop, exact size), is not blank, and passes the
image safety classifier that screens reference images; a refusal or a failed check moves to the
next model of the chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from adapters.errors import ProviderError
from adapters.factory import EMULATOR_KEY
from adapters.image_clients import build_image_client
from adapters.image_port import ImagePort, first_frame
from adapters.images import ImageClient, ImageRequest, ImageResult, prepare_references
from foundation.states import SHOT_ENDED, Stage
from pipeline import keyframes, sheets, stage_tries
from pipeline.context import RunContext
from quality.screening import screener_for
from router import StageCandidate
from store.db import session_scope
from store.models import Job, Shot

STAGE = Stage.KEYFRAME
BLANK_STD = 4.0  # a frame whose pixels vary less than this is blank
_EMULATED = {"openai": ("openai", "/v1"), "fal": ("fal", ""), "gemini": ("google", "/v1beta")}


def pending(session: Any, shot: Shot, storyboard: dict[str, Any]) -> bool:
    """Whether the shot's keyframe still has to be drawn. A shot without a keyframe stage costs
    no query (its storyboard entry says so)."""
    from foundation.characters import composed_spec_prompt
    from foundation.keyframes import spec_keyframe

    if shot.status in SHOT_ENDED or shot.status == "accepted":
        return False
    spec = stage_tries.spec_entry(storyboard, shot.key)
    if not spec_keyframe(spec):
        return False
    prompt = composed_spec_prompt(storyboard, spec)
    return keyframes.accepted_for(session, shot.id, prompt) is None


def draw(ctx: RunContext, shot_pk: int) -> float:
    """Draw the shot's keyframe along its image chain; the shot fails (stage ``keyframe``) when
    no model delivers one that passes the check. Returns 0 when the stage is over, else the
    seconds to wait for a slot of the model. Idempotent: a drawn keyframe is left as it is, a
    model already tried on this prompt is not asked again."""
    with session_scope(ctx.db_url) as session:
        shot = session.get_one(Shot, shot_pk)
        job = session.get_one(Job, shot.job_id)
        if not pending(session, shot, job.storyboard):
            return 0.0
        keyframe = keyframes.keyframe_of(
            job.storyboard, shot.key, sheets.drawn_for(session, job.id, job.storyboard)
        )
        assert keyframe is not None
        if any(ref.startswith(sheets.PLACEHOLDER) for ref in keyframe.references):
            return sheets.WAIT_S  # a sheet it is conditioned on is not drawn yet
        tries = keyframes.keyframe_attempts(session, shot.id)
        stage_tries.close_interrupted(session, job.id, tries, STAGE)
        owner = stage_tries.Owner.of(job, shot)
        mine = [a for a in tries if (a.request or {}).get("prompt") == keyframe.prompt]
        tried = stage_tries.ended_on(mine)
        waiting = stage_tries.reserved_by_model(mine)
        approved = approved_try(ctx, session, owner, keyframe)
    if approved is not None and approved[0].model_id not in tried:
        candidate, key = approved
        outcome = _try(
            ctx, shot_pk, owner, keyframe, candidate, waiting.get(candidate.model_id), key
        )
        if not isinstance(outcome, tuple):  # drawn (the approved one, for nothing), or wait
            return outcome or 0.0
    providers = keyframes.image_providers(owner.providers, ctx.settings)
    decision = keyframes.route_keyframe(ctx, keyframe, providers, owner.mode)

    def attempt_one(candidate: StageCandidate, reserved: int | None) -> stage_tries.Outcome:
        return _try(ctx, shot_pk, owner, keyframe, candidate, reserved)

    return stage_tries.walk_chain(ctx, shot_pk, decision, tried, waiting, attempt_one, STAGE)


def approved_try(
    ctx: RunContext, session: Any, owner: stage_tries.Owner, keyframe: keyframes.Keyframe
) -> tuple[StageCandidate, str] | None:
    """The model and cache key of the keyframe approved in the preview a final job commits (its
    stage reuses that keyframe, so the final animates exactly the approved image); None for any
    other job (``keyframes.approved_candidate``)."""
    found = keyframes.approved_keyframe(session, owner.id, owner.shot_key, keyframe.prompt)
    return keyframes.approved_candidate(ctx, found, owner.providers)


def _try(
    ctx: RunContext,
    shot_pk: int,
    owner: stage_tries.Owner,
    keyframe: keyframes.Keyframe,
    candidate: StageCandidate,
    reserved: int | None,
    approved: str | None = None,
) -> stage_tries.Outcome:
    """One model's try: None when the keyframe is drawn, the seconds to wait for the model's
    slot, or (reason, whether to stop trying). With ``approved`` (a cache key), only that cached
    keyframe is taken: nothing is drawn or paid for when it is gone."""
    spec = ctx.registry.get(candidate.model_id)
    target, key = keyframes.keyed(ctx, keyframe, candidate.model_id)
    cached = stage_tries.cached_try(ctx, key, owner.tenant, STAGE)
    if approved is not None and (key != approved or cached is None):
        return "the approved keyframe is no longer stored: a new one is drawn", False
    request = {
        "stage": STAGE, "prompt": keyframe.prompt, "size": target.size, "aspect": target.aspect,
        "references": list(keyframe.references), "cache_key": key, "reused_from": cached and cached[0],
    }  # fmt: skip
    admitted = stage_tries.admit_try(
        ctx, shot_pk, owner, candidate, request, STAGE, reserved, cached,
        lambda attempt_id, ref: _check(ctx, attempt_id, owner, keyframe, ctx.assets.local(ref), ref, 0.0),
    )  # fmt: skip
    if not isinstance(admitted, stage_tries.Admitted):
        return admitted
    attempt_id = admitted.attempt_id

    def asked() -> ImageRequest:
        refs = prepare_references(
            [ctx.assets.local(r) for r in keyframe.references],
            str(spec.caps["api"]),
            int(spec.caps.get("reference_images", 0)),
        )
        return ImageRequest(
            candidate.provider_model, keyframe.prompt, size=target.size, aspect=target.aspect,
            references=refs, params=dict(spec.params),
        )  # fmt: skip

    name = f"keyframe-{owner.shot_key}-{key[:12]}"
    done = draw_image(ctx, attempt_id, owner, candidate, asked, name, key, STAGE)
    if not isinstance(done, Drawn):
        return done
    return _check(ctx, attempt_id, owner, keyframe, done.raw, done.ref, done.cost)


@dataclass(frozen=True)
class Drawn:
    raw: Path  # the image as the provider sent it, on this machine
    ref: str  # its key in the asset store
    cost: float


def draw_image(
    ctx: RunContext,
    attempt_id: int,
    owner: stage_tries.Owner,
    candidate: StageCandidate,
    asked: Callable[[], ImageRequest],
    name: str,
    key: str,
    stage: Stage,
) -> Drawn | stage_tries.Outcome:
    """One image stage try's call (its model's slot already admitted): the request built by
    ``asked`` is sent, the image stored and priced, and the attempt records it (``source``, and
    ``stage:key`` as its job id, which the cache finds). A provider's refusal fails the try and
    returns (reason, False): the next model may draw it. The slot is released either way."""
    spec = ctx.registry.get(candidate.model_id)

    def send() -> ImageResult:
        request = asked()
        return image_client(ctx, str(spec.caps["api"]), candidate.provider).generate(request)

    result = stage_tries.call(ctx, attempt_id, owner, candidate.model_id, stage, send)
    if isinstance(result, tuple):
        return result
    raw = result.save(ctx.work_dir(owner.id) / name)
    ref = stage_tries.keep_output(ctx, attempt_id, owner, raw, f"{stage}:{key}")
    assert spec.usage_price is not None
    cost = spec.usage_price.cost(result.billed(spec.usage_price.meters)).usd
    return Drawn(raw, ref, float(cost))


def image_client(ctx: RunContext, api: str, provider: str) -> ImageClient:
    """The provider's image client: at the emulator when emulated, else with its key."""
    if provider == "local" or api == "local":
        return build_image_client(api, provider)
    if ctx.emulated:
        at, path = _EMULATED[provider]
        return build_image_client(
            api, provider, api_key=EMULATOR_KEY, base_url=ctx.base_urls[at] + path
        )
    secret = getattr(ctx.settings, sheets.HOSTED_IMAGES[provider], None)
    key = secret.get_secret_value() if secret is not None else ""
    return build_image_client(api, provider, api_key=key)


def problem(ctx: RunContext, raw: Path, fitted: Path, width: int, height: int) -> str | None:
    """Why the drawn image cannot be the shot's first frame (None: it can); writes the frame,
    cropped and sized to the video's, to ``fitted``."""
    try:
        frame = first_frame(raw, width, height, ImagePort(STAGE, exact=True))
    except ProviderError as exc:
        return f"the keyframe cannot be used: {exc}"
    fitted.write_bytes(frame.data)
    pixels = cv2.imdecode(np.frombuffer(frame.data, np.uint8), cv2.IMREAD_COLOR)
    if pixels is None or pixels.shape[:2] != (height, width):
        return f"the keyframe is not a {width}x{height} image after the crop"
    if float(pixels.std()) < BLANK_STD:
        return "the keyframe is blank"
    images = screener_for(ctx.settings, hosted=False).images
    verdict = images.check(fitted) if images is not None else None
    if verdict is not None and verdict.refused:
        return f"the keyframe is refused by rule image-safety ({verdict.reason()})"
    return None


def _check(
    ctx: RunContext,
    attempt_id: int,
    owner: stage_tries.Owner,
    keyframe: keyframes.Keyframe,
    raw: Path,
    ref: str,
    cost: float,
) -> tuple[str, bool] | None:
    """The keyframe checked; the attempt accepted (or rejected) and settled."""
    fitted = ctx.work_dir(owner.id) / f"keyframe-{owner.shot_key}-{attempt_id}-frame.png"
    why = problem(ctx, raw, fitted, keyframe.width, keyframe.height)
    details = {"size": [keyframe.width, keyframe.height]}
    return stage_tries.conclude(
        ctx, attempt_id, owner, STAGE, (ref, cost), why, asset=fitted, details=details
    )
