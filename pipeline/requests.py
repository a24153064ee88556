"""What a shot's video attempt asks its provider: the one request builder (``build_request``), the
shot as its video stage renders it (``shot_spec``, ``framed_spec``) and the request stored on the
attempt (``request_record``)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from adapters.base import GenerationRequest
from foundation.characters import composed_spec_prompt, spec_references, video_spec
from pipeline import keyframes
from pipeline.context import RunContext
from store.models import Job, Shot
from store.records import RouteCandidate, ShotRoute, StoredRequest


def build_request(
    shot_spec: dict[str, Any], candidate: RouteCandidate, route: ShotRoute
) -> GenerationRequest:
    """The provider request for one candidate; every fallback gets the same prompt, seed and refs.

    The dialogue line goes only with a request that renders audio: in the registry's contract
    dialogue is native speech (``dialogue: true`` needs ``audio: optional|always``), so a silent
    render has no line to speak and the provider is not sent one.
    """
    return GenerationRequest(
        shot_id=shot_spec["id"],
        prompt=shot_spec["prompt"],
        duration_s=candidate.duration_s,
        width=candidate.width,
        height=candidate.height,
        fps=candidate.fps,
        model=candidate.model_id,
        provider_model=candidate.provider_model,
        audio=candidate.audio,
        dialogue=shot_spec.get("dialogue") if candidate.audio else None,
        speaker=shot_spec.get("speaker") if candidate.audio else None,
        seed=route.seed if route.seed is not None else shot_spec.get("seed"),
        reference_image=Path(shot_spec["reference_image"])
        if shot_spec.get("reference_image")
        else None,
        negative_prompt=shot_spec.get("negative_prompt"),
        reference_images=tuple(Path(p) for p in shot_spec.get("reference_images") or ()),
        shot_type=route.shot_type if route.shot_type is not None else shot_spec.get("type"),
        extra=dict(candidate.params),
    )


def shot_spec(job: Job, key: str) -> dict[str, Any]:
    """The shot as its video stage renders it (``characters.video_spec``: a voiced line is left to
    the tts stage), its ``prompt`` composed with the descriptions of the characters it features
    and the storyboard's style (what the provider is sent)."""
    for scene in job.storyboard["scenes"]:
        for spec in scene["shots"]:
            if spec["id"] == key:
                composed = composed_spec_prompt(job.storyboard, spec)
                references = spec_references(job.storyboard, spec)
                video = video_spec(job.storyboard, spec)
                return video | {"prompt": composed, "reference_images": references}
    raise KeyError(key)


def framed_spec(session: Session, job: Job, shot: Shot) -> dict[str, Any]:
    """``shot_spec`` with the shot's drawn keyframe as its ``reference_image`` (the first frame
    the video animates, and an input of its cache key); other shots' specs as they are."""
    spec = shot_spec(job, shot.key)
    keyframe = keyframes.keyframe_ref(session, spec, shot.id)
    return spec if keyframe is None else spec | {"reference_image": keyframe, "keyframed": True}


WEBHOOK_PROVIDERS = ("replicate", "fal", "google")


def request_record(
    ctx: RunContext, session: Session, job: Job, shot: Shot, candidate: RouteCandidate, number: int
) -> dict[str, Any]:
    """The stored request of an attempt (the one builder for a shot's video attempts and its
    native variant renders), with its attempt key (a client reference where the provider takes
    one) and, when the platform is reachable (``SHOTLINE_PUBLIC_URL``), the webhook the provider
    should call (the reference image is added when submitting, from the storyboard or the
    previous shot's last frame)."""
    spec = framed_spec(session, job, shot)
    request = build_request(spec, candidate, ShotRoute.from_json(shot.route))
    extra = {"attempt_key": f"{job.id}-{shot.key}-{number}"}
    provider, public = candidate.provider, ctx.settings.public_url
    if public and provider in WEBHOOK_PROVIDERS:
        extra["webhook_url"] = f"{public.rstrip('/')}/v1/providers/{provider}/webhook"
    stored = StoredRequest.from_json(asdict(request) | {"extra": request.extra | extra}).to_json()
    if spec.get("keyframed"):
        stored["reference_image"] = spec["reference_image"]
    return stored
