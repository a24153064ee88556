"""The image emulators speak the real protocols: each provider's official SDK (openai 3.60.0,
google-genai 3.6.1, fal-client 1.0.3), pointed at the emulator, gets an image it can decode."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np
import pytest

from adapters._images_local import encode
from emulators import EmulatorHandle, start_emulator
from tests import web

RED = encode(np.full((32, 32, 3), (0, 0, 255), np.uint8))


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator() as handle:
        yield handle


def size_of(data: bytes) -> tuple[int, int]:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return int(image.shape[1]), int(image.shape[0])


def test_openai_images_generate_and_edit(emulator: EmulatorHandle):
    from openai import OpenAI

    client = OpenAI(api_key="key", base_url=emulator.base_urls["openai"] + "/v1")
    made = client.images.generate(model="gpt-image-2", prompt="a fox", size="1280x720")
    assert made.data
    assert made.data[0].b64_json
    assert size_of(base64.b64decode(made.data[0].b64_json)) == (1280, 720)
    assert made.usage is not None
    assert made.usage.output_tokens > 0
    refs = [("a.png", io.BytesIO(RED), "image/png"), ("b.png", io.BytesIO(RED), "image/png")]
    edited = client.images.edit(model="gpt-image-2", image=refs, prompt="mara", size="816x816")
    assert edited.data
    assert edited.data[0].b64_json
    assert edited.usage is not None
    assert edited.usage.input_tokens_details.image_tokens > 0  # both image[] parts arrived


def test_google_genai_image(emulator: EmulatorHandle):
    from google import genai
    from google.genai import types

    client = genai.Client(
        api_key="key",
        http_options=types.HttpOptions(base_url=emulator.base_urls["google"], api_version="v1beta"),
    )
    response = client.models.generate_content(
        model="gemini-2.5-flash-image",
        contents=types.Content(
            role="user",
            parts=[
                types.Part.from_bytes(data=RED, mime_type="image/png"),
                types.Part.from_text(text="mara on the dock"),
            ],
        ),
        config=types.GenerateContentConfig(
            response_modalities=["IMAGE"], image_config=types.ImageConfig(aspect_ratio="16:9")
        ),
    )
    content = response.candidates[0].content if response.candidates else None
    parts = content.parts if content else None
    blob = parts[0].inline_data if parts and parts[0].inline_data else None
    assert blob is not None
    assert blob.data is not None
    assert size_of(blob.data) == (1344, 768)


def test_fal_client_image(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch):
    import fal_client
    import fal_client.client

    monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", emulator.base_urls["fal"] + "/")
    client = fal_client.SyncClient(key="key-id:key-secret")
    uri = "data:image/png;base64," + base64.b64encode(RED).decode()
    for app, arguments in (
        ("fal-ai/flux/schnell", {"prompt": "a fox", "image_size": "landscape_16_9"}),
        ("fal-ai/flux-pro/kontext", {"prompt": "mara", "image_url": uri, "aspect_ratio": "1:1"}),
    ):
        result: dict[str, Any] = client.subscribe(app, arguments=arguments)
        image = result["images"][0]
        assert size_of(web.get(image["url"]).content) == (image["width"], image["height"])
    assert (image["width"], image["height"]) == (1024, 1024)
