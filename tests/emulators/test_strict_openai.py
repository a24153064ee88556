"""The OpenAI videos emulator refuses what ``POST /v1/videos`` refuses, with the API's status and
``{"error": {message, type, param, code}}`` body, and accepts every request the adapter sends for
the registry's OpenAI models (rules and sources: ``emulators/routes/_openai_rules.py``)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import openai
import pytest

from adapters.base import JobState
from adapters.factory import build_adapter
from adapters.openai_videos import OpenAIVideosAdapter
from emulators import EmulatorHandle, Scenario, start_emulator
from foundation.settings import Settings
from tests import web
from tests.emulators._routed import reference_png, routed_requests

# Sora was shut down on 2026-09-24 and the router never routes retired models; the capability
# sweep routes as of a day before, the wire being the same for the gateways that still serve it.
BEFORE_SHUTDOWN = date(2026, 9, 1)
FAIL_EVERY_JOB = {"faults": [{"kind": "job_failure", "rate": 1.0}]}  # accepted, never rendered


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    scenario = Scenario.model_validate({"providers": {"openai": FAIL_EVERY_JOB}})
    with start_emulator(scenario) as handle:
        yield handle


@pytest.fixture(scope="module")
def base(emulator: EmulatorHandle) -> str:
    return emulator.base_urls["openai"] + "/v1"


@pytest.fixture(scope="module")
def client(base: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="key", base_url=base, max_retries=0) as sdk:
        yield sdk


def refusal(call: Any, **kwargs: Any) -> Any:
    """The response of an SDK call the API refuses (the SDK raises ``APIStatusError``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK deprecates videos.*
        with pytest.raises(openai.APIStatusError) as caught:
            call(**kwargs)
    return caught.value.response


def error(message: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }


def png(width: int, height: int) -> bytes:
    ok, data = cv2.imencode(".png", np.zeros((height, width, 3), np.uint8))
    assert ok
    return bytes(data.tobytes())


class TestRefusals:
    def test_unknown_model(self, client: openai.OpenAI):
        answer = refusal(client.videos.create, prompt="a kite", model="sora-3")
        assert answer.status_code == 400
        assert answer.json() == error(
            "Invalid value: 'sora-3'. Supported values are: 'sora-2' and 'sora-2-pro'.",
            "model",
            "invalid_value",
        )

    def test_seconds_outside_4_8_12(self, client: openai.OpenAI):
        answer = refusal(client.videos.create, prompt="a kite", seconds="5")
        assert answer.status_code == 400
        assert answer.json() == error(
            "Invalid value: '5'. Supported values are: '4', '8', and '12'.",
            "seconds",
            "invalid_value",
        )

    def test_seconds_as_an_integer(self, base: str):
        body = {"prompt": "a kite", "seconds": 8}
        answer = web.post(f"{base}/videos", json=body, headers={"Authorization": "Bearer k"})
        assert answer.status_code == 400
        assert answer.json() == error(
            "Invalid type for 'seconds': expected one of '4', '8', or '12', but got an integer "
            "instead.",
            "seconds",
            "invalid_type",
        )

    def test_unsupported_size(self, client: openai.OpenAI):
        answer = refusal(client.videos.create, prompt="a kite", size="640x360")
        assert answer.status_code == 400
        assert answer.json() == error(
            "Invalid value: '640x360'. Supported values are: '720x1280', '1280x720', "
            "'1024x1792', and '1792x1024'.",
            "size",
            "invalid_value",
        )

    def test_unknown_parameter(self, client: openai.OpenAI):
        answer = refusal(client.videos.create, prompt="a kite", extra_body={"width": "1080"})
        assert answer.status_code == 400
        assert answer.json() == error("Unknown parameter: 'width'.", "width", "unknown_parameter")

    def test_missing_prompt(self, base: str):
        answer = web.post(
            f"{base}/videos", files={"seconds": (None, "4")}, headers={"Authorization": "Bearer k"}
        )
        assert answer.status_code == 400
        assert answer.json() == error(
            "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
        )

    def test_input_reference_sent_as_a_string(self, base: str):
        fields = {"prompt": (None, "a kite"), "input_reference": (None, "https://x/y.png")}
        answer = web.post(f"{base}/videos", files=fields, headers={"Authorization": "Bearer k"})
        assert answer.status_code == 400
        assert answer.json() == error(
            "Invalid type for 'input_reference': expected a file, but got a string instead.",
            "input_reference",
            "invalid_type",
        )

    @pytest.mark.parametrize("reference", ["upload", "data_url"])
    def test_input_reference_of_another_size(
        self, client: openai.OpenAI, base: str, reference: str
    ):
        image = png(640, 360)
        if reference == "upload":
            answer = refusal(
                client.videos.create,
                prompt="a kite",
                size="1280x720",
                input_reference=("ref.png", image, "image/png"),
            )
        else:
            import base64

            url = "data:image/png;base64," + base64.b64encode(image).decode()
            body = {"prompt": "a kite", "size": "1280x720", "input_reference": {"image_url": url}}
            answer = web.post(f"{base}/videos", json=body, headers={"Authorization": "Bearer k"})
        assert answer.status_code == 400
        assert answer.json() == error(
            "Inpaint image must match the requested width and height", "input_reference", None
        )

    @pytest.mark.parametrize("authorization", [None, "Key key", "Bearer"])
    def test_bearer_auth_only(self, base: str, authorization: str | None):
        headers = {"Authorization": authorization} if authorization else {}
        answer = web.post(f"{base}/videos", files={"prompt": (None, "a kite")}, headers=headers)
        assert answer.status_code == 401
        body = answer.json()["error"]
        assert body["type"] == "invalid_request_error"
        assert body["message"].startswith("You didn't provide an API key.")


class TestAccepted:
    @pytest.mark.parametrize("model", ["sora-2", "sora-2-pro", "sora-2-2025-12-08"])
    def test_sdk_models_and_defaults(self, client: openai.OpenAI, model: str):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            video = client.videos.create(prompt="a kite", model=model)
        assert (video.model, video.seconds, video.size) == (model, "4", "720x1280")

    def test_reference_of_the_requested_size(self, client: openai.OpenAI):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            video = client.videos.create(
                prompt="a kite",
                size="720x1280",
                seconds="8",
                input_reference=("ref.png", png(720, 1280), "image/png"),
            )
        assert video.status == "queued"


def test_every_registry_capability_is_accepted(emulator: EmulatorHandle, tmp_path: Path):
    """The adapter's request for every OpenAI registry model and each advertised size x duration
    x image input (audio is always on) is accepted, and the emulator sees the routed shape."""
    adapter = build_adapter(
        "openai", settings=Settings(_env_file=None), base_url=emulator.base_urls["openai"]
    )
    image = reference_png(tmp_path)
    seen = 0
    for label, request in routed_requests("openai", BEFORE_SHUTDOWN, image):
        job = emulator.emulator.jobs[adapter.submit(request)]
        shape = (job.model, job.spec.duration_s, job.spec.width, job.spec.height)
        assert shape == (
            request.provider_model,
            request.duration_s,
            request.width,
            request.height,
        ), label
        seen += 1
    assert seen == 36  # sora-2: 2 sizes x 3 lengths x 2; sora-2-pro: 4 x 3 x 2


@pytest.mark.parametrize("status", ["preprocessing", "moderating", ""])
def test_unknown_status_is_still_running(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, status: str
):
    adapter = build_adapter(
        "openai", settings=Settings(_env_file=None), base_url=emulator.base_urls["openai"]
    )
    assert isinstance(adapter, OpenAIVideosAdapter)
    monkeypatch.setattr(adapter._http, "json", lambda *a, **k: {"id": "v", "status": status})
    assert adapter.poll("v").state is JobState.RUNNING


def test_a_video_in_progress_cannot_be_deleted_and_the_adapter_does_not_try():
    """openai 3.60.0 ``videos.delete``: "Permanently delete a completed or failed video" (the API
    has no cancel). The adapter cancelled with ``DELETE``, which the emulator honoured."""
    scenario = Scenario.model_validate(
        {"providers": {"openai": {"latency": {"seconds": 3600.0}}}, "media": {"max_side": 32}}
    )
    with start_emulator(scenario) as handle:
        base = handle.base_urls["openai"] + "/v1"
        with openai.OpenAI(api_key="key", base_url=base, max_retries=0) as sdk:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                video = sdk.videos.create(prompt="a kite", model="sora-2", seconds="4")
            answer = refusal(sdk.videos.delete, video_id=video.id)
        assert answer.status_code == 400
        assert answer.json()["error"]["type"] == "invalid_request_error"
        adapter = OpenAIVideosAdapter(api_key="key", base_url=handle.base_urls["openai"])
        assert adapter.cancel(video.id) is False
        assert video.id in handle.emulator.jobs, "still there, rendering"
