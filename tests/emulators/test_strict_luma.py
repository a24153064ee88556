"""The Luma emulator refuses what Luma refuses, on the legacy Dream Machine API (lumaai 1.21.0,
through the SDK) and the Agents API (luma-agents 0.5.0 types and docs.agents.lumalabs.ai; the
SDK is not installed, so raw HTTP), with Luma's statuses and ``{"detail": ...}`` body; and it
accepts every request the adapter sends for what the registry advertises."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lumaai import AuthenticationError, BadRequestError, LumaAI

from adapters.base import GenerationRequest, JobState
from adapters.errors import RejectedInputError
from adapters.luma import LumaAdapter
from emulators import EmulatorHandle, start_emulator
from tests import web
from tests.emulators.strict_support import PNG, quiet_scenario

DATA = base64.b64encode(PNG).decode()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator(quiet_scenario("luma")) as handle:
        yield handle


@pytest.fixture
def client(emulator: EmulatorHandle) -> LumaAI:
    base = emulator.base_urls["luma"] + "/dream-machine/v1"
    return LumaAI(auth_token="key", base_url=base, max_retries=0)


class TestLegacyRefusedThroughTheSdk:
    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("model", "ray-3"),
            ("aspect_ratio", "2:1"),
            ("duration", "10s"),
            ("resolution", "360p"),
        ],
    )
    def test_values_outside_the_sdk_literals(self, client: LumaAI, field: str, value: str):
        kwargs: dict[str, Any] = {"model": "ray-2", "prompt": "a kite", field: value}
        with pytest.raises(BadRequestError) as caught:
            client.generations.video.create(**kwargs)
        assert caught.value.status_code == 400
        body = caught.value.body
        assert isinstance(body, dict)
        assert set(body) == {"detail"}
        assert value in body["detail"]

    def test_keyframe_needs_its_type(self, client: LumaAI):
        with pytest.raises(BadRequestError) as caught:
            client.generations.video.create(
                model="ray-2",
                prompt="a kite",
                keyframes={"frame0": {"url": "https://example.com/a.png"}},  # type: ignore[arg-type]
            )
        assert caught.value.status_code == 400

    def test_an_inline_image_is_no_keyframe_url(self, client: LumaAI):
        """docs.lumalabs.ai/docs/video-generation: an image only as a URL Luma fetches."""
        with pytest.raises(BadRequestError) as caught:
            client.generations.video.create(
                model="ray-2",
                prompt="a kite",
                keyframes={"frame0": {"type": "image", "url": f"data:image/png;base64,{DATA}"}},
            )
        assert caught.value.status_code == 400
        assert caught.value.body == {
            "detail": "keyframes.frame0.url must be an image URL, got 'data:image/png;b'..."
        }

    def test_bad_key_scheme_is_401(self, emulator: EmulatorHandle):
        base = emulator.base_urls["luma"] + "/dream-machine/v1"
        client = LumaAI(auth_token="key", base_url=base, max_retries=0)
        with pytest.raises(AuthenticationError) as caught:
            client.with_options(default_headers={"Authorization": "Key key"}).generations.get("x")
        assert caught.value.status_code == 401
        assert caught.value.body == {"detail": "Invalid API key"}


def agents(
    emulator: EmulatorHandle, body: dict[str, Any], key: str = "Bearer key"
) -> httpx.Response:
    return web.post(
        f"{emulator.base_urls['luma']}/v1/generations", json=body, headers={"Authorization": key}
    )


def video(**options: Any) -> dict[str, Any]:
    return {
        "model": "ray-3.2",
        "type": "video",
        "prompt": "a kite",
        "aspect_ratio": "16:9",
        "video": {"duration": "5s", "resolution": "720p", **options},
    }


class TestAgentsRefused:
    @pytest.mark.parametrize(
        ("body", "status", "words"),
        [
            ({**video(), "model": "ray-2"}, 400, "model"),
            ({**video(), "model": "ray-3.3"}, 400, "model"),
            ({**video(), "aspect_ratio": "9:21"}, 400, "aspect_ratio"),
            ({**video(), "aspect_ratio": "2:1"}, 400, "ray-3.2 video"),
            ({**video(), "prompt": ""}, 400, "prompt"),
            ({**video(), "prompt": "x" * 6001}, 400, "prompt"),
            (video(duration="9s"), 400, "duration"),
            (video(resolution="4k"), 400, "resolution"),
            (
                video(duration="10s", start_frame={"data": DATA, "media_type": "image/png"}),
                422,
                "10s",
            ),
            (video(duration="10s", end_frame={"url": "https://example.com/a.png"}), 422, "10s"),
            (video(duration="10s", loop=True), 422, "loop"),
            (video(hdr=True, resolution="540p"), 422, "hdr"),
            (video(exr_export=True), 422, "exr_export"),
            (video(start_frame={"data": DATA}), 422, "media_type"),
            (video(start_frame={"url": f"data:image/png;base64,{DATA}"}), 422, "data"),
            (video(start_frame={"data": "not base64!", "media_type": "image/png"}), 422, "base64"),
            (video(start_frame={"url": "https://a/b.png", "file_id": "f"}), 400, "exactly one"),
            (
                video(
                    keyframes=[{"data": DATA, "media_type": "image/png"}], keyframe_indexes=[121]
                ),
                422,
                "0..120",
            ),
            (
                video(
                    keyframes=[{"data": DATA, "media_type": "image/png"}],
                    keyframe_indexes=[0],
                    start_frame={"data": DATA, "media_type": "image/png"},
                ),
                422,
                "exclude",
            ),
        ],
    )
    def test_refused_with_the_documented_status(
        self, emulator: EmulatorHandle, body: dict[str, Any], status: int, words: str
    ):
        answer = agents(emulator, body)
        assert answer.status_code == status, answer.text
        assert set(answer.json()) == {"detail"}
        assert words in answer.json()["detail"]

    def test_inline_image_over_the_size_limit_is_413(self, emulator: EmulatorHandle):
        big = base64.b64encode(b"\0" * (50 * 1024 * 1024 + 1)).decode()
        answer = agents(emulator, video(start_frame={"data": big, "media_type": "image/png"}))
        assert answer.status_code == 413

    def test_missing_key_is_401(self, emulator: EmulatorHandle):
        answer = agents(emulator, video(), key="")
        assert answer.status_code == 401
        assert answer.json() == {"detail": "Invalid API key"}

    def test_accepted_forms(self, emulator: EmulatorHandle):
        ref = {"data": DATA, "media_type": "image/png"}
        for body in (
            video(start_frame=ref),
            video(duration="10s", keyframes=[ref], keyframe_indexes=[0]),
            video(resolution="360p"),
        ):
            answer = agents(emulator, body)
            assert answer.status_code == 201, answer.text
            assert answer.json()["type"] == "video"


def test_agents_body_sends_inline_images_as_data_and_media_type(tmp_path: Path):
    image = tmp_path / "ref.png"
    image.write_bytes(PNG)
    seen: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(201, json={"id": "g1", "state": "queued"})

    adapter = LumaAdapter(
        api_key="k", base_url="https://luma.test", transport=httpx.MockTransport(answer)
    )
    for seconds in (5.0, 10.0):
        adapter.submit(
            GenerationRequest(
                shot_id="s",
                prompt="p",
                duration_s=seconds,
                width=1280,
                height=720,
                fps=24,
                model="luma/ray-3.2",
                provider_model="ray-3.2",
                reference_image=image,
            )
        )
    ref = {"data": DATA, "media_type": "image/png"}
    assert seen[0]["video"]["start_frame"] == ref
    assert seen[1]["video"]["keyframes"] == [ref]
    assert seen[1]["video"]["keyframe_indexes"] == [0]
    assert "start_frame" not in seen[1]["video"]


@pytest.mark.parametrize("model", ["ray-2", "ray-flash-2"])
def test_dream_machine_is_sent_no_first_frame(tmp_path: Path, model: str):
    """The registry gives these models no image; a request with one is refused unsent."""
    image = tmp_path / "ref.png"
    image.write_bytes(PNG)
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json={})

    transport = httpx.MockTransport(answer)
    adapter = LumaAdapter(api_key="k", base_url="https://luma.test", transport=transport)
    request = GenerationRequest(shot_id="s", prompt="p", duration_s=5.0, width=1280, height=720,
                                fps=24, model=f"luma/{model}", provider_model=model,
                                reference_image=image)  # fmt: skip
    with pytest.raises(RejectedInputError, match="takes a first frame only as a public image URL"):
        adapter.submit(request)
    assert sent == []


def mock_adapter(generation: dict[str, Any]) -> LumaAdapter:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=generation))
    return LumaAdapter(api_key="key", base_url="https://luma.test", transport=transport)


class TestStateMapping:
    @pytest.mark.parametrize("job_id", ["agents/g", "dm/g"])
    def test_an_unknown_state_is_still_running(self, job_id: str):
        result = mock_adapter({"id": "g", "state": "rendering_hdr"}).poll(job_id)
        assert result.state is JobState.RUNNING
        assert result.error is None

    @pytest.mark.parametrize(
        ("code", "kind"),
        [
            ("image_too_large", "rejected_input"),
            ("unsupported_format", "rejected_input"),
            ("corrupt_input", "rejected_input"),
            ("invalid_request", "rejected_input"),
            ("budget_exhausted", "rejected_input"),
            ("rate_limited", "rate_limited"),  # these five were provider failures, retried
            ("output_not_found", "provider_failure"),
            ("generation_failed", "provider_failure"),
        ],
    )
    def test_each_failure_code_of_luma_agents_0_5_0(self, code: str, kind: str):
        """luma-agents 0.5.0 ``types/generation_failure_code.py``."""
        result = mock_adapter({"id": "g", "state": "failed", "failure_code": code}).poll("agents/g")
        assert result.state is JobState.FAILED
        assert result.error is not None
        assert (result.error.kind, str(result.error)) == (kind, f"luma: {code}")

    def test_failed_is_failed(self):
        generation = {"id": "g", "state": "failed", "failure_code": "content_moderated"}
        result = mock_adapter(generation).poll("agents/g")
        assert result.state is JobState.FAILED
        assert result.error is not None
        assert result.error.kind == "safety_refusal"
