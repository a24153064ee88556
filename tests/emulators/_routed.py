"""The requests the pipeline sends for every capability a provider's registry models advertise.

For each model of the provider and each advertised size x duration x audio x image input, one shot
is routed by the real router (pinned to the model, so the candidate is exactly that model) and
turned into the provider request by ``pipeline.requests.build_request``, as a render would.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import cv2
import numpy as np

from adapters.base import GenerationRequest
from foundation.storyboard import AudioNeed, Mode
from pipeline.planning import candidate_record
from pipeline.requests import build_request
from registry import AudioSupport, ModelSpec, Registry, load_registry
from router import Router as ShotRouter
from router import RoutingPolicy, ShotNeed
from store.records import ShotRoute


def reference_png(folder: Path) -> Path:
    """A reference image whose size matches no provider size (the adapter must fit it)."""
    path = folder / "reference.png"
    image = np.zeros((203, 301, 3), np.uint8)
    image[:, :150] = (40, 120, 200)
    cv2.imwrite(str(path), image)
    return path


def _audio_needs(spec: ModelSpec) -> tuple[AudioNeed, ...]:
    if spec.audio is AudioSupport.OPTIONAL:
        return (AudioNeed.NONE, AudioNeed.AMBIENT)
    return (AudioNeed.NONE,)


def routed_requests(
    provider: str, day: date, image: Path, registry: Registry | None = None
) -> Iterator[tuple[str, GenerationRequest]]:
    """``(label, request)`` for every advertised capability of ``provider``'s models on ``day``."""
    registry = registry or load_registry()
    policy = RoutingPolicy.for_mode(Mode.PREVIEW, today=day, allow_unverified=True)
    router = ShotRouter(registry, mode=Mode.PREVIEW, providers={provider}, policy=policy)
    for spec in (m for m in registry.models if m.provider == provider):
        for option in spec.sizes.options:
            for seconds in spec.durations_for(option.resolution).grid:
                for audio in _audio_needs(spec):
                    for with_image in (False, True) if spec.inputs.image else (False,):
                        label = (
                            f"{spec.id} {option.width}x{option.height} {seconds:g}s "
                            f"audio={audio} image={with_image}"
                        )
                        need = ShotNeed(
                            shot_id="s1",
                            scene_id="sc1",
                            path="scenes[0].shots[0]",
                            prompt="a lighthouse at dusk, waves below",
                            duration_s=seconds,
                            width=option.width,
                            height=option.height,
                            fps=spec.fps[0] if spec.fps else 24.0,
                            audio=audio,
                            shot_type="broll",
                            type_inferred=False,
                            seed=7,
                            has_image=with_image,
                            reference_image=str(image) if with_image else None,
                            pinned_model=spec.id,
                        )
                        yield label, _request(router, need, label)


def _request(router: ShotRouter, need: ShotNeed, label: str) -> GenerationRequest:
    evaluation = router.evaluate(need)
    found = [c for c in evaluation.feasible if c.model_id == need.pinned_model]
    assert len(found) == 1, f"{label}: not routable: {evaluation.rejected}"
    candidate = found[0]
    assert (candidate.width, candidate.height) == (need.width, need.height), label
    assert candidate.duration_s == need.duration_s, label
    shot = {
        "id": need.shot_id,
        "prompt": need.prompt,
        "reference_image": need.reference_image,
        "type": need.shot_type,
    }
    route = ShotRoute(seed=need.seed, shot_type=need.shot_type)
    return build_request(shot, candidate_record(candidate), route)
