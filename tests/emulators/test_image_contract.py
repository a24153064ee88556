"""The registry and the image emulators cannot drift apart: every routable hosted image model x
every output it advertises (each size or aspect, or sample frames for any-size models), asked
the way ``registry.image_target`` says, with as many references as it takes (up to 2 here), is
accepted by the strict emulator and answers the pixels the registry expects."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import numpy as np
import pytest

from adapters._images_local import encode
from adapters.image_clients import build_image_client
from adapters.images import ImageRequest, Reference
from emulators import EmulatorHandle, start_emulator
from registry import LifecycleStatus, ModelKind, image_target, load_registry

TODAY = date(2026, 12, 5)
REF = Reference(encode(np.full((16, 16, 3), 60, np.uint8)), "image/png")
PATHS = {"openai": "/openai/v1", "fal": "/fal", "gemini": "/google/v1beta"}
# with a sheet's square at the default size and a small frame: gpt-image-2 refuses under 655,360
# pixels, and both were asked below it
FRAMES = ((1280, 720), (720, 1280), (1920, 1080), (720, 720), (854, 480), (810, 810))


def _cases() -> list[tuple[str, tuple[int, int]]]:
    cases = []
    for spec in load_registry().of_kind(ModelKind.IMAGE, TODAY):
        if spec.provider == "local" or spec.lifecycle.status(TODAY) is LifecycleStatus.RETIRED:
            continue
        caps = spec.caps
        frames: list[tuple[int, int]] = list(FRAMES)
        if caps.get("sizes"):
            frames = [tuple(int(v) for v in s.split("x")) for s in caps["sizes"]]  # type: ignore[misc]
        elif caps.get("aspect_ratios"):
            frames = [
                (int(a.split(":")[0]) * 120, int(a.split(":")[1]) * 120)
                for a in caps["aspect_ratios"]
            ]
        cases += [(spec.id, frame) for frame in frames]
    return cases


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with start_emulator() as handle:
        yield handle


@pytest.mark.parametrize(("model_id", "frame"), _cases())
def test_every_advertised_output_is_accepted(emu, model_id, frame):
    spec = load_registry().get(model_id)
    target = image_target(spec.caps, *frame)
    refs = (REF,) * min(2, spec.caps.get("reference_images", 0))
    client = build_image_client(
        spec.caps["api"], spec.provider, api_key="k:k", base_url=emu.base_url + PATHS[spec.provider]
    )
    request = ImageRequest(
        spec.provider_model,
        "a lighthouse",
        size=target.size,
        aspect=target.aspect,
        references=refs,
        params={**spec.params, "quality": "low"} if spec.provider == "openai" else spec.params,
    )
    result = client.generate(request)
    assert (result.width, result.height) == (target.width, target.height)
    assert spec.usage_price is not None
    assert spec.usage_price.cost(result.billed(spec.usage_price.meters)).usd > 0
