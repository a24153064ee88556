"""Image clients against the strict emulators: each API's round trip returns a real, measured
image whose content follows the prompt and the references, with the usage its price meters on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from adapters._images_local import encode
from adapters.errors import ProviderFailureError, RejectedInputError
from adapters.image_clients import build_image_client
from adapters.images import (
    ImageClient,
    ImageRequest,
    ImageResult,
    Reference,
    measured,
    prepare_references,
)
from emulators import EmulatorHandle, start_emulator
from registry import ModelKind, load_registry
from tests.media.declared import jpeg_declaring

RED = Reference(encode(np.full((48, 48, 3), (0, 0, 255), np.uint8)), "image/png")
BLUE = Reference(encode(np.full((48, 48, 3), (255, 0, 0), np.uint8)), "image/png")
KEY = "emulator-key"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with start_emulator() as handle:
        yield handle


def client(emu: EmulatorHandle, api: str) -> ImageClient:
    bases = {
        "openai_images": ("openai", f"{emu.base_url}/openai/v1"),
        "fal_queue": ("fal", f"{emu.base_url}/fal"),
        "gemini_image": ("gemini", f"{emu.base_url}/google/v1beta"),
        "local": ("local", None),
    }
    provider, base = bases[api]
    return build_image_client(api, provider, api_key=KEY, base_url=base)


def pixels(result: ImageResult) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(result.data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape[:2] == (result.height, result.width)
    return np.asarray(image)


def centre(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return np.asarray(
        image[h // 2 : h * 2 // 3, w * 2 // 5 : w * 3 // 5].reshape(-1, 3).mean(axis=0)
    )


CASES = [
    ("openai_images", ImageRequest("gpt-image-2", "a fox", size="1088x608"), (1088, 608)),
    ("fal_queue", ImageRequest("fal-ai/flux/schnell", "a fox", size="320x180", seed=1), (320, 180)),
    ("fal_queue", ImageRequest("fal-ai/flux-pro/kontext", "a fox", aspect="16:9"), (1392, 752)),
    ("gemini_image", ImageRequest("gemini-2.5-flash-image", "a fox", aspect="16:9"), (1344, 768)),
    ("local", ImageRequest("keyframe", "a fox", size="320x180"), (320, 180)),
]


@pytest.mark.parametrize(("api", "request_", "size"), CASES, ids=lambda c: getattr(c, "model", c))
def test_round_trip_returns_a_measured_image_that_follows_the_prompt(emu, api, request_, size):
    image_client = client(emu, api)
    first = image_client.generate(request_)
    other = image_client.generate(
        ImageRequest(request_.model, "a lighthouse in a storm", request_.size, request_.aspect)
    )
    picture = pixels(first)
    assert (first.width, first.height) == size
    assert picture.std() > 10  # not blank
    assert np.abs(picture.astype(int) - pixels(other).astype(int)).mean() > 5
    assert first.usage["images"] == 1


@pytest.mark.parametrize(
    ("api", "model", "refs", "extra"),
    [
        ("openai_images", "gpt-image-2", 2, {"size": "816x816"}),
        ("fal_queue", "fal-ai/flux-pro/kontext", 1, {"aspect": "1:1"}),
        ("fal_queue", "fal-ai/flux-pro/kontext", 3, {"aspect": "1:1"}),
        ("gemini_image", "gemini-2.5-flash-image", 2, {"aspect": "1:1"}),
        ("local", "keyframe", 2, {"size": "256x256"}),
    ],
)
def test_references_carry_into_the_image(emu, api, model, refs, extra):
    image_client = client(emu, api)
    red = image_client.generate(ImageRequest(model, "mara", references=(RED,) * refs, **extra))
    blue = image_client.generate(ImageRequest(model, "mara", references=(BLUE,) * refs, **extra))
    b_red, _, r_red = centre(pixels(red))
    b_blue, _, r_blue = centre(pixels(blue))
    assert r_red > 200 > b_red
    assert b_blue > 200 > r_blue


def test_usage_is_what_each_price_meters_and_prices_from_the_registry(emu):
    registry = load_registry()
    got = {
        "openai/gpt-image-2": client(emu, "openai_images").generate(
            ImageRequest("gpt-image-2", "x" * 400, size="1536x1024", references=(RED,))
        ),
        "fal/flux-schnell": client(emu, "fal_queue").generate(
            ImageRequest("fal-ai/flux/schnell", "x", size="1280x720")
        ),
        "fal/flux-kontext-pro": client(emu, "fal_queue").generate(
            ImageRequest("fal-ai/flux-pro/kontext", "x", aspect="16:9", references=(RED,))
        ),
        "gemini/gemini-2.5-flash-image": client(emu, "gemini_image").generate(
            ImageRequest("gemini-2.5-flash-image", "x", aspect="16:9", references=(RED,))
        ),
    }
    costs = {}
    for model_id, result in got.items():
        spec = registry.get(model_id)
        assert spec.kind is ModelKind.IMAGE
        assert spec.usage_price is not None
        costs[model_id] = spec.usage_price.cost(result.billed(spec.usage_price.meters)).usd
    # 101 text tokens at $5/1M + 323 image tokens at $8/1M + 1584 output tokens at $30/1M
    assert costs["openai/gpt-image-2"] == pytest.approx(
        101 * 5e-6 + 323 * 8e-6 + 1584 * 30e-6, abs=1e-6
    )
    assert costs["fal/flux-schnell"] == pytest.approx(0.003)  # 1280x720 bills one megapixel
    assert costs["fal/flux-kontext-pro"] == pytest.approx(0.04)
    assert costs["gemini/gemini-2.5-flash-image"] == pytest.approx(
        1 * 0.3e-6 + 258 * 0.3e-6 + 1290 * 30e-6, abs=1e-6
    )


def test_saved_image_keeps_its_type(emu, tmp_path: Path):
    result = client(emu, "local").generate(ImageRequest("keyframe", "x", size="64x36"))
    saved = result.save(tmp_path / "frame")
    assert saved.suffix == ".png"
    loaded = cv2.imread(str(saved))
    assert loaded is not None
    assert loaded.shape == (36, 64, 3)


def test_references_are_shaped_to_the_api_and_counted_before_spend(tmp_path: Path):
    big = tmp_path / "sheet.png"
    cv2.imwrite(str(big), np.full((3000, 1500, 3), 128, np.uint8))
    (ref,) = prepare_references([big], "fal_queue", limit=1)
    decoded = cv2.imdecode(np.frombuffer(ref.data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape[:2] == (2048, 1024)
    with pytest.raises(RejectedInputError, match="4 reference images, the model takes at most 3"):
        prepare_references([big] * 4, "gemini_image", limit=3)


def test_a_hosted_client_without_a_key_is_refused_before_any_request():
    with pytest.raises(RejectedInputError, match="no API key"):
        build_image_client("openai_images", "openai", api_key="")


@pytest.mark.parametrize(
    ("api", "provider", "request_", "why"),
    [
        ("openai_images", "openai", ImageRequest("gpt-image-2", "x", seed=1), "takes no seed"),
        ("gemini_image", "gemini", ImageRequest("gemini-2.5-flash-image", "x", seed=1), "no seed"),
        (
            "fal_queue",
            "fal",
            ImageRequest("fal-ai/flux/schnell", "x", negative_prompt="rain"),
            "no negative",
        ),
        ("local", "local", ImageRequest("keyframe", "x", negative_prompt="rain"), "no negative"),
    ],
)
def test_what_an_api_would_drop_is_refused_before_any_request(api, provider, request_, why):
    # a closed port: a request that went out would fail as transient, not as rejected input
    image_client = build_image_client(api, provider, api_key="k:k", base_url="http://127.0.0.1:9")
    with pytest.raises(RejectedInputError, match=why):
        image_client.generate(request_)


def test_fal_sync_mode_answers_the_image_inline(emu):
    request = ImageRequest("fal-ai/flux/schnell", "a fox", size="96x64", params={"sync_mode": True})
    result = client(emu, "fal_queue").generate(request)
    assert result.raw["images"][0]["url"].startswith("data:image/png;base64,")
    assert (result.width, result.height) == (96, 64)


def test_a_provider_image_declaring_too_many_pixels_is_garbage_not_decoded():
    with pytest.raises(ProviderFailureError, match="answer's image declares 40000x30000 pixels"):
        measured(jpeg_declaring(40000, 30000), "fal")
    assert measured(encode(np.zeros((8, 16, 3), np.uint8)), "fal") == (16, 8, "image/png")


def test_a_provider_image_of_another_format_is_garbage_though_opencv_reads_it():
    ok, bmp = cv2.imencode(".bmp", np.zeros((8, 16, 3), np.uint8))
    assert ok
    assert cv2.imdecode(bmp, cv2.IMREAD_COLOR) is not None
    with pytest.raises(ProviderFailureError, match="not a PNG, JPEG or WebP image"):
        measured(bmp.tobytes(), "fal")


def test_an_empty_provider_image_is_named_empty():
    with pytest.raises(ProviderFailureError, match=r"the answer's image is empty \(0 bytes\)"):
        measured(b"", "fal")
