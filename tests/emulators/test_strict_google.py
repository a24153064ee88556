"""The strict Google emulator refuses what Google refuses, with Google's status and error body, and
accepts every request the adapter builds for every registry google model and capability.

Each refusal goes through google-genai 3.6.1 in Vertex mode where the SDK can send it (it raises
``errors.APIError`` carrying the HTTP code and the JSON body), else through raw HTTP.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.base import GenerationRequest
from emulators import EmulatorHandle, start_emulator
from registry import load_registry
from registry._build import size_for
from tests import web

PROJECT_PATH = "/v1/projects/p/locations/us-central1/publishers/google/models"
BEARER = {"Authorization": "Bearer ya29.token"}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator() as handle:
        yield handle


def vertex_url(emulator: EmulatorHandle, model: str, action: str = "predictLongRunning") -> str:
    return f"{emulator.base_urls['google']}{PROJECT_PATH}/{model}:{action}"


def body(**parameters: Any) -> dict[str, Any]:
    return {"instances": [{"prompt": "a kite"}], "parameters": {"durationSeconds": 8, **parameters}}


def assert_google_error(answer: httpx.Response, code: int, status: str) -> None:
    assert answer.status_code == code
    error = answer.json()["error"]
    assert (error["code"], error["status"]) == (code, status)
    assert error["message"]


def sdk_refusal(emulator: EmulatorHandle, model: str, **config: Any) -> Any:
    """Send ``generate_videos`` through the SDK; return the ``APIError`` it raised."""
    from google.genai import errors, types

    from tests.emulators.test_sdks import vertex_client

    client = vertex_client(emulator.base_urls["google"])
    with pytest.raises(errors.APIError) as raised:
        client.models.generate_videos(
            model=model,
            source=types.GenerateVideosSource(prompt="a kite"),
            config=types.GenerateVideosConfig(**config),
        )
    return raised.value


# --- auth -------------------------------------------------------------------------------------


def test_vertex_without_credentials_is_unauthenticated(emulator: EmulatorHandle):
    # Vertex needs an OAuth2 bearer token (SDK google-genai 3.6.1 _api_client.py).
    answer = web.post(vertex_url(emulator, "veo-3.1-generate-001"), json=body())
    assert_google_error(answer, 401, "UNAUTHENTICATED")


def test_gemini_api_needs_its_api_key_not_a_bearer(emulator: EmulatorHandle):
    url = f"{emulator.base_urls['google']}/v1beta/models/gemini-3.8-flash:generateContent"
    answer = web.post(url, json={"contents": []}, headers=BEARER)
    assert_google_error(answer, 403, "PERMISSION_DENIED")


# --- model ids --------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["veo-9-generate-001", "veo-3.0-generate-001"])
def test_unknown_or_retired_vertex_model_is_not_found(emulator: EmulatorHandle, model: str):
    error = sdk_refusal(emulator, model, duration_seconds=8)
    assert (error.code, error.status) == (404, "NOT_FOUND")
    assert model in error.message


@pytest.mark.parametrize(
    "model", ["veo-3.1-generate-preview", "veo-3.1-fast-generate-preview", "veo-2.0-generate-001"]
)
def test_gemini_api_serves_no_veo_model(emulator: EmulatorHandle, model: str):
    url = f"{emulator.base_urls['google']}/v1beta/models/{model}:predictLongRunning"
    answer = web.post(url, json=body(), headers={"x-goog-api-key": "k"})
    assert_google_error(answer, 404, "NOT_FOUND")


# --- per-model values (SDK-sendable) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "config", "fragment"),
    [
        ("veo-3.1-generate-001", {"duration_seconds": 5}, "durationSeconds"),
        ("veo-3.1-generate-001", {"duration_seconds": 10}, "durationSeconds"),
        ("veo-3.1-fast-generate-001", {"duration_seconds": 8, "aspect_ratio": "1:1"}, "aspect"),
        ("veo-3.1-lite-generate-001", {"duration_seconds": 8, "resolution": "4k"}, "resolution"),
        ("veo-3.1-generate-001", {"duration_seconds": 4, "resolution": "1080p"}, "1080p"),
        ("veo-3.1-fast-generate-001", {"duration_seconds": 6, "resolution": "4k"}, "4k"),
        ("veo-3.1-generate-001", {"duration_seconds": 8, "person_generation": "all"}, "person"),
        ("veo-3.1-generate-001", {"duration_seconds": 8, "number_of_videos": 5}, "sampleCount"),
        ("veo-3.1-generate-001", {"duration_seconds": 8, "output_gcs_uri": "s3://b"}, "gs://"),
    ],
)
def test_sdk_requests_google_refuses(
    emulator: EmulatorHandle, model: str, config: dict[str, Any], fragment: str
):
    error = sdk_refusal(emulator, model, **config)
    assert (error.code, error.status) == (400, "INVALID_ARGUMENT")
    assert fragment in error.message


def test_reference_images_beyond_the_model_limit_are_refused(emulator: EmulatorHandle):
    from google.genai import types

    image = types.Image(image_bytes=PNG, mime_type="image/png")
    ref = types.VideoGenerationReferenceImage(image=image, reference_type="asset")
    lite = sdk_refusal(
        emulator, "veo-3.1-lite-generate-001", duration_seconds=8, reference_images=[ref]
    )
    assert (lite.code, lite.status) == (400, "INVALID_ARGUMENT")
    many = sdk_refusal(
        emulator, "veo-3.1-generate-001", duration_seconds=8, reference_images=[ref] * 4
    )
    assert "At most 3" in many.message


def test_reference_images_only_at_16_9_and_without_a_first_frame(emulator: EmulatorHandle):
    """[DOC-VEO31] "9:16, except for reference image to video"; google-genai 3.6.1
    ``GenerateVideosConfig.reference_images``: "The image, video, or last_frame field are not
    supported" (the emulator took both; the adapter sent both for every keyframed character)."""
    from google.genai import types

    image = types.Image(image_bytes=PNG, mime_type="image/png")
    ref = types.VideoGenerationReferenceImage(image=image, reference_type="asset")
    portrait = sdk_refusal(
        emulator, "veo-3.1-generate-001", duration_seconds=8, aspect_ratio="9:16",
        reference_images=[ref],
    )  # fmt: skip
    assert (portrait.code, portrait.status) == (400, "INVALID_ARGUMENT")
    assert "aspectRatio 16:9" in portrait.message
    framed = body()
    framed["instances"][0] |= {
        "image": {"bytesBase64Encoded": base64.b64encode(PNG).decode(), "mimeType": "image/png"},
        "referenceImages": [{"image": framed_ref(), "referenceType": "asset"}],
    }
    answer = web.post(vertex_url(emulator, "veo-3.1-fast-generate-001"), json=framed,
                      headers=BEARER)  # fmt: skip
    assert_google_error(answer, 400, "INVALID_ARGUMENT")
    assert "not supported with image" in answer.json()["error"]["message"]


def framed_ref() -> dict[str, str]:
    return {"bytesBase64Encoded": base64.b64encode(PNG).decode(), "mimeType": "image/png"}


def test_inline_image_over_20_mb_is_refused(emulator: EmulatorHandle):
    big = "A" * (20 * 1024 * 1024 * 4 // 3 + 8)
    payload = body()
    payload["instances"][0]["image"] = {"bytesBase64Encoded": big, "mimeType": "image/png"}
    answer = web.post(
        vertex_url(emulator, "veo-3.1-generate-001"), json=payload, headers=BEARER, timeout=60
    )
    assert_google_error(answer, 400, "INVALID_ARGUMENT")
    assert "20 MB" in answer.json()["error"]["message"]


def test_fetch_of_another_models_operation_is_refused(emulator: EmulatorHandle):
    created = web.post(vertex_url(emulator, "veo-3.1-generate-001"), json=body(), headers=BEARER)
    assert created.status_code == 200
    answer = web.post(
        vertex_url(emulator, "veo-3.1-fast-generate-001", "fetchPredictOperation"),
        json={"operationName": created.json()["name"]},
        headers=BEARER,
    )
    assert_google_error(answer, 400, "INVALID_ARGUMENT")


# --- registry x capability: the adapter's every request is accepted ---------------------------


def google_requests(image: Path) -> Iterator[tuple[str, GenerationRequest]]:
    """One request per google model x aspect x resolution x allowed duration x image on/off,
    shaped as ``pipeline.requests.build_request`` builds it (audio per the registry)."""
    for spec in load_registry():
        if spec.provider != "google":
            continue
        ratios = sorted({f"{o.width}:{o.height}" for o in spec.sizes.options})
        for option in spec.sizes.options:
            durations = spec.durations_for(option.resolution).grid
            with_image = (False, True) if spec.inputs.image else (False,)
            for seconds, use_image in itertools.product(durations, with_image):
                size = size_for(
                    "9:16" if option.height > option.width else "16:9", option.resolution
                )
                assert f"{size.width}:{size.height}" in ratios
                yield (
                    spec.id,
                    GenerationRequest(
                        shot_id="s",
                        prompt="a lighthouse at dusk",
                        duration_s=seconds,
                        width=option.width,
                        height=option.height,
                        fps=24.0,
                        model=spec.id,
                        provider_model=spec.provider_model,
                        audio=str(spec.audio) != "none",
                        reference_image=image if use_image else None,
                        extra=dict(spec.params),
                    ),
                )
