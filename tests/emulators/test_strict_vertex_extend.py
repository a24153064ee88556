"""The Vertex emulator's extend operation (``instances[0].video``): google-genai 3.6.1 sends it,
the emulator answers with the sent clip followed by 7 s that start from its last frame, and
refuses what Vertex refuses (400 INVALID_ARGUMENT, Google's error body); the Veo adapter builds
the request it accepts. Sources: emulators/routes/_vertex_extend.py."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from adapters.base import GenerationRequest
from adapters.google import VeoAdapter
from emulators import EmulatorHandle, start_emulator
from emulators.media import ClipSpec, render_clip
from emulators.routes.vertex import MODELS, check_body
from registry import ModelSpec, load_registry
from tests import web
from tests.emulators.test_sdks import until, vertex_client
from tests.emulators.test_strict_google import BEARER, PNG, assert_google_error, vertex_url

FAST = "veo-3.1-fast-generate-001"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator() as handle:
        yield handle


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s emulated Veo clip at 160x90 (what a long shot's first part sends)."""
    out = tmp_path_factory.mktemp("extend") / "first.mp4"
    return render_clip(ClipSpec("google", FAST, "a kite", 2.0, 160, 90, audio=True), out)


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24")[-10:, -40:].mean(axis=(0, 1))
                for f in container.decode(video=0)]  # fmt: skip


def test_the_sdk_extends_a_clip_by_seven_seconds_from_its_last_frame(emulator, clip, tmp_path):
    from google.genai import types

    client = vertex_client(emulator.base_urls["google"])
    video = types.Video(video_bytes=clip.read_bytes(), mime_type="video/mp4")
    operation = client.models.generate_videos(
        model=FAST,
        source=types.GenerateVideosSource(prompt="the kite climbs", video=video),
        config=types.GenerateVideosConfig(duration_seconds=7, aspect_ratio="16:9"),
    )
    operation = until(lambda: client.operations.get(operation), lambda op: bool(op.done))
    assert operation.response is not None
    (generated,) = operation.response.generated_videos or []
    assert generated.video is not None
    assert generated.video.video_bytes
    out = tmp_path / "extended.mp4"
    out.write_bytes(generated.video.video_bytes)
    sent, combined = frames(clip), frames(out)
    assert len(combined) == len(sent) + 7 * 24  # the sent clip, then 7 s
    assert np.abs(combined[len(sent) - 1] - sent[-1]).max() < 6  # the sent frames come first
    assert np.abs(combined[len(sent)] - sent[-1]).max() < 12  # the extension starts from the last


def extend_body(clip: Path, **parameters: Any) -> dict[str, Any]:
    video = {"bytesBase64Encoded": base64.b64encode(clip.read_bytes()).decode(),
             "mimeType": "video/mp4"}  # fmt: skip
    return {"instances": [{"prompt": "more", "video": video}],
            "parameters": {"durationSeconds": 7, **parameters}}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"durationSeconds": 8}, "durationSeconds must be 7"),
        ({"resolution": "4k"}, "resolution"),
        ({"aspectRatio": "1:1"}, "aspectRatio"),
        ({"image": True}, "video and image cannot both be set"),
        ({"video": {"mimeType": "video/mp4"}}, "bytesBase64Encoded or gcsUri"),
        ({"video": {"bytesBase64Encoded": "!!", "mimeType": "video/mp4"}}, "not valid base64"),
    ],
)
def test_extend_requests_vertex_refuses(emulator, clip, change: dict[str, Any], fragment: str):
    payload = extend_body(clip)
    instance, params = payload["instances"][0], payload["parameters"]
    for key, value in change.items():
        if key == "image":
            instance["image"] = {"bytesBase64Encoded": base64.b64encode(PNG).decode(),
                                 "mimeType": "image/png"}  # fmt: skip
        elif key == "video":
            instance["video"] = value
        else:
            params[key] = value
    answer = web.post(vertex_url(emulator, FAST), json=payload, headers=BEARER, timeout=30)
    assert_google_error(answer, 400, "INVALID_ARGUMENT")
    assert fragment in answer.json()["error"]["message"]


def test_an_input_shorter_than_a_second_is_refused(emulator, tmp_path):
    short = render_clip(ClipSpec("google", FAST, "a", 0.5, 160, 90), tmp_path / "short.mp4")
    answer = web.post(vertex_url(emulator, FAST), json=extend_body(short), headers=BEARER)
    assert_google_error(answer, 400, "INVALID_ARGUMENT")
    assert "between 1 and 30 seconds" in answer.json()["error"]["message"]


EXTENDING = [s for s in load_registry() if s.extend is not None and s.provider == "google"]


@pytest.mark.parametrize("spec", EXTENDING, ids=[spec.id for spec in EXTENDING])
def test_the_adapter_sends_the_clip_inline_and_no_image(emulator, clip, spec: ModelSpec):
    """Every registry model with ``extend``, at each resolution and aspect it extends at."""
    assert spec.extend is not None
    adapter = VeoAdapter(api_key="ya29.t", project="p", base_url=emulator.base_urls["google"])
    for option in spec.sizes.options:
        if option.resolution not in spec.extend.resolutions:
            continue
        request = GenerationRequest(
            shot_id="take.part2", prompt="the kite climbs", duration_s=spec.extend.seconds,
            width=option.width, height=option.height, fps=24, model=spec.id,
            provider_model=spec.provider_model, audio=True,
            reference_image=clip.with_suffix(".png"), extend_video=clip,
        )  # fmt: skip
        body = adapter.build_body(request)
        (instance,) = body["instances"]
        assert set(instance) == {"prompt", "video"}
        assert base64.b64decode(instance["video"]["bytesBase64Encoded"]) == clip.read_bytes()
        assert body["parameters"]["durationSeconds"] == 7
        model = spec.provider_model
        check_body(body, MODELS[model], model)  # the emulator's rules accept it (no render)
    assert "/operations/" in adapter.submit(request)  # accepted (one render per model)
