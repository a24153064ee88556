"""Proof that the emulators speak the real protocols: each provider's official SDK, pointed at the
emulator, completes create -> poll -> download. Kling has no official Python SDK and the Luma
Agents API (ray-3.2) is not in ``lumaai``; both are covered through raw HTTP by the contract suite.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from emulators import EmulatorHandle, Scenario, start_emulator
from media.probe import probe
from tests import web

T = TypeVar("T")
JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt_adherence": {"type": "number"},
        "visual_quality": {"type": "number"},
        "temporal_coherence": {"type": "number"},
        "anatomy": {"type": "number"},
        "issues": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"start_s": {"type": "number"}, "description": {"type": "string"}},
                "required": ["start_s", "description"],
                "additionalProperties": False,  # OpenAI strict mode needs both on every object
            },
        },
    },
    "required": ["prompt_adherence", "visual_quality", "temporal_coherence", "anatomy", "issues"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    scenario = Scenario.model_validate(
        {
            "media": {"max_side": 320},
            "models": {
                "gemini-judge-issues": {
                    "judge": {"issues": [{"t": 1.5, "description": "hand has six fingers"}]}
                }
            },
        }
    )
    with start_emulator(scenario) as handle:
        yield handle


def until(fetch: Callable[[], T], done: Callable[[T], bool], limit_s: float = 20.0) -> T:
    deadline = time.monotonic() + limit_s
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = fetch()
    return value


def check_mp4(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    info = probe(path)
    assert info.error is None
    assert info.has_video
    assert info.duration_s > 1.0


def test_runwayml(emulator: EmulatorHandle, tmp_path: Path):
    from runwayml import RunwayML

    client = RunwayML(api_key="key", base_url=emulator.base_urls["runway"])
    created = client.text_to_video.create(
        model="gen4.5", prompt_text="a kite over dunes", ratio="1280:720", duration=2
    )
    task = until(lambda: client.tasks.retrieve(created.id), lambda t: t.status == "SUCCEEDED")
    assert task.status == "SUCCEEDED"
    check_mp4(web.get(task.output[0]).content, tmp_path)
    client.tasks.delete(created.id)


def vertex_client(base: str, token: str = "ya29.emulator") -> Any:
    """google-genai in Vertex mode against the emulator, with a fixed OAuth2 bearer token."""
    from google import genai
    from google.genai import types
    from google.oauth2.credentials import Credentials

    return genai.Client(
        vertexai=True,
        project="shotline-emulator",
        location="us-central1",
        credentials=Credentials(token=token),
        http_options=types.HttpOptions(base_url=base, api_version="v1"),
    )


def test_google_genai_veo(emulator: EmulatorHandle, tmp_path: Path):
    """google-genai 3.x creates videos only in Vertex mode ("only supported in Gemini Enterprise
    Agent Platform mode"): the SDK creates, polls (fetchPredictOperation) and gets the clip inline."""
    from google.genai import types

    client = vertex_client(emulator.base_urls["google"])
    operation = client.models.generate_videos(
        model="veo-3.1-fast-generate-001",
        source=types.GenerateVideosSource(prompt="a kite"),
        config=types.GenerateVideosConfig(duration_seconds=4, aspect_ratio="16:9"),
    )
    operation = until(lambda: client.operations.get(operation), lambda op: bool(op.done))
    assert operation.response is not None
    videos = operation.response.generated_videos or []
    data = videos[0].video.video_bytes if videos and videos[0].video else None
    assert data is not None
    check_mp4(data, tmp_path)


def test_google_genai_judge(emulator: EmulatorHandle):
    from google import genai
    from google.genai import types

    client = genai.Client(
        api_key="key",
        http_options=types.HttpOptions(base_url=emulator.base_urls["google"], api_version="v1beta"),
    )
    parts = [
        types.Part.from_bytes(data=b"\x00" * 16, mime_type="image/jpeg"),
        types.Part.from_text(text="score this"),
    ]
    response = client.models.generate_content(
        model="gemini-judge-issues",
        contents=types.Content(role="user", parts=parts),
        config=types.GenerateContentConfig(
            response_mime_type="application/json", response_json_schema=JUDGE_SCHEMA
        ),
    )
    answer = json.loads(response.text or "")
    assert 0.0 <= answer["anatomy"] <= 1.0
    assert answer["issues"] == [{"start_s": 1.5, "description": "hand has six fingers"}]


def test_fal_client(emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import fal_client
    import fal_client.client

    # fal_client builds queue URLs from a module constant (https://queue.fal.run/); no base_url.
    monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", emulator.base_urls["fal"] + "/")
    client = fal_client.SyncClient(key="key-id:key-secret")  # fal keys are id:secret
    handle = client.submit(
        "fal-ai/veo3.1/fast",
        arguments={"prompt": "a kite", "duration": "4s", "aspect_ratio": "16:9"},
    )
    status = until(handle.status, lambda s: isinstance(s, fal_client.Completed))
    assert isinstance(status, fal_client.Completed)
    result: dict[str, Any] = handle.get()
    check_mp4(web.get(result["video"]["url"]).content, tmp_path)


def test_replicate(emulator: EmulatorHandle, tmp_path: Path):
    from replicate.client import Client

    client = Client(api_token="key", base_url=emulator.base_urls["replicate"])
    prediction = client.predictions.create(
        model="google/veo-3.1-fast", input={"prompt": "a kite", "duration": 4}
    )
    prediction = until(
        lambda: client.predictions.get(prediction.id), lambda p: p.status == "succeeded"
    )
    assert isinstance(prediction.output, str)
    check_mp4(web.get(prediction.output).content, tmp_path)


def test_lumaai(emulator: EmulatorHandle, tmp_path: Path):
    from lumaai import LumaAI

    client = LumaAI(auth_token="key", base_url=emulator.base_urls["luma"] + "/dream-machine/v1")
    created = client.generations.create(
        model="ray-2", prompt="a kite", aspect_ratio="16:9", duration="5s", resolution="540p"
    )
    assert created.id is not None
    generation = until(
        lambda: client.generations.get(str(created.id)), lambda g: g.state == "completed"
    )
    assert generation.assets is not None
    assert generation.assets.video is not None
    check_mp4(web.get(generation.assets.video).content, tmp_path)


def test_openai_videos(emulator: EmulatorHandle, tmp_path: Path):
    from openai import OpenAI

    client = OpenAI(api_key="key", base_url=emulator.base_urls["openai"] + "/v1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the Sora API is deprecated upstream
        video = client.videos.create(model="sora-2", prompt="a kite", seconds="4", size="1280x720")
        video = until(lambda: client.videos.retrieve(video.id), lambda v: v.status == "completed")
        content = client.videos.download_content(video.id)
    assert video.status == "completed"
    check_mp4(content.read(), tmp_path)


def test_openai_chat_judge(emulator: EmulatorHandle):
    from openai import OpenAI

    client = OpenAI(api_key="key", base_url=emulator.judge_base_urls["openai"])
    messages: list[Any] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "score this frame"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
            ],
        }
    ]
    schema_format: Any = {
        "type": "json_schema",
        "json_schema": {"name": "verdict", "schema": JUDGE_SCHEMA, "strict": True},
    }
    completion = client.chat.completions.create(
        model="gpt-judge", messages=messages, response_format=schema_format
    )
    answer = json.loads(completion.choices[0].message.content or "")
    assert set(answer) == set(JUDGE_SCHEMA["properties"])
    assert all(0.0 <= answer[k] <= 1.0 for k in ("prompt_adherence", "visual_quality"))


@pytest.mark.parametrize(("day", "gone"), [("2026-12-10", False), ("2026-12-11", True)])
def test_openai_chat_refuses_a_model_past_its_shutdown(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, day: str, gone: bool
):
    """openai 3.60.0 chat_model.py: gpt-5-mini's announced shutdown is 2026-12-11; the emulator
    answered it 200 for good."""
    from datetime import date

    from openai import NotFoundError, OpenAI

    from foundation import clock

    monkeypatch.setattr(clock, "today", lambda: date.fromisoformat(day))
    client = OpenAI(api_key="key", base_url=emulator.judge_base_urls["openai"], max_retries=0)
    ask: Any = [{"role": "user", "content": "hello"}]
    if gone:
        with pytest.raises(NotFoundError) as refused:
            client.chat.completions.create(model="gpt-5-mini", messages=ask)
        assert refused.value.code == "model_not_found"
        assert "The model `gpt-5-mini` does not exist" in refused.value.message
    else:
        assert client.chat.completions.create(model="gpt-5-mini", messages=ask).choices
    assert client.chat.completions.create(model="gpt-5.4-mini", messages=ask).choices
