"""Every request the registry lets the router send to one provider's models, built the way the
pipeline builds it (``pipeline.attempts.build_request`` from a ``RouteCandidate``).

A strict emulator must accept each of them: that is what keeps the registry and the emulators
from drifting apart. Jobs are kept from rendering (one slot, an hour of latency, tiny media) so
hundreds of submissions stay cheap.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from pathlib import Path

from adapters.base import GenerationRequest
from emulators import Scenario
from pipeline.attempts import build_request
from registry import AudioSupport, DurationSpec, ModelSpec, load_registry
from store.records import RouteCandidate, ShotRoute

# a 1x1 PNG, enough for an emulator that checks encodings, not pictures
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def quiet_scenario(provider: str) -> Scenario:
    """Jobs are accepted but never start rendering beyond the first one."""
    profile = {"concurrency": 1, "latency": {"seconds": 3600.0}}
    return Scenario.model_validate({"providers": {provider: profile}, "media": {"max_side": 32}})


def durations(spec: DurationSpec) -> list[float]:
    if spec.grid:
        return list(spec.grid)
    step = spec.step_s or 1.0
    count = round((spec.max_s - spec.min_s) / step) + 1
    return [spec.min_s + i * step for i in range(count)]


def audio_values(spec: ModelSpec) -> list[bool]:
    return {
        AudioSupport.NONE: [False],
        AudioSupport.OPTIONAL: [False, True],
        AudioSupport.ALWAYS: [True],
    }[spec.audio]


def image_values(spec: ModelSpec, image: Path) -> list[Path | None]:
    if spec.inputs.image_required:
        return [image]
    return [None, image] if spec.inputs.image else [None]


def capability_requests(provider: str, image_dir: Path) -> Iterator[tuple[str, GenerationRequest]]:
    """``(label, request)`` for every model of ``provider`` x duration x size x audio x image."""
    image = image_dir / "ref.png"
    image.write_bytes(PNG)
    for spec in load_registry():
        if spec.provider != provider or not spec.enabled:
            continue
        for size in spec.sizes.options:
            combos = itertools.product(
                durations(spec.durations_for(size.resolution)),
                audio_values(spec),
                image_values(spec, image),
            )
            for seconds, audio, ref in combos:
                candidate = RouteCandidate(
                    model_id=spec.id,
                    provider=spec.provider,
                    provider_model=spec.provider_model,
                    quote_usd=0.0,
                    duration_s=seconds,
                    width=size.width,
                    height=size.height,
                    fps=spec.fps[0] if spec.fps else 24.0,
                    audio=audio,
                    params=dict(spec.params),
                )
                shot = {"id": "s1", "prompt": "a lighthouse at dusk", "dialogue": "Hello there."}
                if ref is not None:
                    shot["reference_image"] = str(ref)
                label = f"{spec.id} {seconds:g}s {size.label} audio={audio} image={ref is not None}"
                yield label, build_request(shot, candidate, ShotRoute((candidate,), seed=7))
