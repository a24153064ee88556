"""The Kling emulator refuses what Kling refuses, with Kling's status and ``{code, message,
request_id}`` body, and accepts every request the adapter builds for the registry's Kling models."""

from __future__ import annotations

import base64
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from adapters._kling_legacy import hs256_jwt
from adapters.base import JobState
from adapters.kling import KlingAdapter
from emulators import EmulatorHandle, Scenario, start_emulator
from pipeline.requests import build_request
from registry import AudioSupport, ModelSpec, load_registry
from tests import web


def png(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size."""
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", zlib.compress(raw)),
            chunk(b"IEND", b""),
        )
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    # tasks stay queued (nothing renders): the tests here are about what is accepted
    scenario = Scenario.model_validate(
        {"seed": 3, "defaults": {"latency": {"seconds": 600}}, "media": {"max_side": 96}}
    )
    with start_emulator(scenario) as handle:
        yield handle


@pytest.fixture
def client(emulator: EmulatorHandle) -> Iterator[httpx.Client]:
    url = emulator.base_urls["kling"]
    with httpx.Client(
        base_url=url, headers={"Authorization": "Bearer key-1"}, verify=web.TLS
    ) as http:
        yield http


def refused(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert (response.status_code, body["code"]) == (status, code), body
    assert isinstance(body["message"], str)
    assert body["message"]
    assert body["request_id"]
    return body


T2V = {"prompt": "a lighthouse", "settings": {"duration": 5, "resolution": "720p"}}


class TestAuth:
    def test_missing_authorization_is_1001(self, client: httpx.Client):
        response = client.post("/text-to-video/kling-3.0", json=T2V, headers={"Authorization": ""})
        refused(response, 401, 1001)

    def test_new_standard_refuses_an_ak_sk_jwt_with_1002(self, client: httpx.Client):
        token = hs256_jwt({"iss": "ak", "exp": int(time.time()) + 600, "nbf": 0}, "sk")
        response = client.post(
            "/text-to-video/kling-3.0", json=T2V, headers={"Authorization": f"Bearer {token}"}
        )
        assert "does not support AK/SK" in refused(response, 401, 1002)["message"]

    def test_legacy_refuses_expired_and_early_tokens(self, client: httpx.Client):
        body = {"model_name": "kling-v3", "prompt": "p", "mode": "std", "duration": "5"}
        now = int(time.time())
        for claims, code in (
            ({"iss": "ak", "exp": now - 10, "nbf": now - 100}, 1004),
            ({"iss": "ak", "exp": now + 900, "nbf": now + 300}, 1003),
        ):
            token = hs256_jwt(claims, "sk")
            response = client.post(
                "/v1/videos/text2video", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            refused(response, 401, code)

    def test_legacy_accepts_a_valid_jwt(self, client: httpx.Client):
        token = hs256_jwt({"iss": "ak", "exp": int(time.time()) + 600, "nbf": 0}, "sk")
        body = {"model_name": "kling-v3", "prompt": "p", "mode": "pro", "duration": "5"}
        response = client.post(
            "/v1/videos/text2video", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
        assert response.json()["data"]["task_status"] == "submitted"


class TestNewStandard:
    def test_unknown_model_is_1203(self, client: httpx.Client):
        refused(client.post("/text-to-video/kling-v9", json=T2V), 404, 1203)

    def test_unknown_product_is_1202(self, client: httpx.Client):
        refused(client.post("/video-to-video/kling-3.0", json=T2V), 404, 1202)

    @pytest.mark.parametrize(
        "body",
        [
            T2V | {"model_name": "kling-v3"},  # legacy field
            T2V | {"duration": "5"},
            {"prompt": "p", "settings": {"mode": "pro"}},  # no std/pro mode on the new standard
            {"prompt": "p", "settings": {"duration": 2}},
            {"prompt": "p", "settings": {"duration": 16}},
            {"prompt": "p", "settings": {"duration": "5"}},
            {"prompt": "p", "settings": {"resolution": "2k"}},
            {"prompt": "p", "settings": {"aspect_ratio": "4:3"}},
            {"prompt": "p", "settings": {"audio": "on"}},
            {"prompt": "p" * 3073},
            {"settings": {"duration": 5}},
            T2V | {"options": {"idempotency_key": "x"}},
        ],
    )
    def test_kling_3_refuses_invalid_bodies_with_1201(self, client, body):
        refused(client.post("/text-to-video/kling-3.0", json=body), 400, 1201)

    @pytest.mark.parametrize(
        "settings",
        [{"resolution": "4k"}, {"audio": "native"}, {"multi_shot": False}],
    )
    def test_turbo_has_no_4k_audio_field_or_multi_shot(self, client, settings):
        body = {"prompt": "p", "settings": settings}
        refused(client.post("/text-to-video/kling-3.0-turbo", json=body), 400, 1201)

    def test_kling_26_native_audio_needs_1080p(self, client: httpx.Client):
        body = {"prompt": "p", "settings": {"audio": "native", "resolution": "720p"}}
        refused(client.post("/text-to-video/kling-2.6", json=body), 400, 1201)

    @pytest.mark.parametrize(
        "contents",
        [
            [{"type": "prompt", "text": "p"}],  # no first frame
            [{"type": "last_frame", "url": b64(png(400, 400))}],
            [{"type": "first_frame", "url": b64(b"GIF89a" + b"\x00" * 64)}],
            [{"type": "first_frame", "url": b64(png(200, 400))}],  # under 300 px
            [{"type": "first_frame", "url": b64(png(1200, 320))}],  # ratio over 2.5:1
            [{"type": "first_frame", "url": "not base64!"}],
            [{"type": "image", "url": b64(png(400, 400))}],
        ],
    )
    def test_image_to_video_refuses_bad_contents(self, client, contents):
        body = {"contents": contents, "settings": {"duration": 5}}
        refused(client.post("/image-to-video/kling-3.0", json=body), 400, 1201)

    def test_turbo_image_to_video_takes_no_last_frame_or_aspect(self, client: httpx.Client):
        frame = {"type": "first_frame", "url": b64(png(400, 400))}
        last = {"type": "last_frame", "url": b64(png(400, 400))}
        refused(
            client.post("/image-to-video/kling-3.0-turbo", json={"contents": [frame, last]}),
            400,
            1201,
        )
        body = {"contents": [frame], "settings": {"aspect_ratio": "1:1"}}
        refused(client.post("/image-to-video/kling-3.0-turbo", json=body), 400, 1201)

    def test_the_frame_sets_the_aspect_of_an_image_to_video_task(self, client: httpx.Client):
        frame = {"type": "first_frame", "url": "data:image/png;base64," + b64(png(360, 640))}
        body = {"contents": [{"type": "prompt", "text": "p"}, frame]}
        response = client.post("/image-to-video/kling-3.0-turbo", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["status"] == "submitted"


class TestExternalTaskId:
    def test_a_repeated_reference_is_refused_and_makes_no_second_task(
        self, client: httpx.Client, emulator: EmulatorHandle
    ):
        body = T2V | {"options": {"external_task_id": "attempt-dup-1"}}
        first = client.post("/text-to-video/kling-3.0", json=body)
        assert first.status_code == 200
        task_id = first.json()["data"]["id"]
        assert first.json()["data"]["external_id"] == "attempt-dup-1"
        again = client.post("/text-to-video/kling-3.0-turbo", json=body)
        assert "already exists" in refused(again, 400, 1201)["message"]
        legacy = {"model_name": "kling-v3", "prompt": "p", "external_task_id": "attempt-dup-1"}
        refused(client.post("/v1/videos/text2video", json=legacy), 400, 1201)  # one namespace
        found = client.get("/tasks", params={"external_task_ids": "attempt-dup-1"}).json()
        assert [task["id"] for task in found["data"]] == [task_id]

    def test_query_by_ids_and_references_together_is_refused(self, client: httpx.Client):
        params = {"task_ids": "1", "external_task_ids": "2"}
        refused(client.get("/tasks", params=params), 400, 1201)

    def test_unknown_ids_are_absent(self, client: httpx.Client):
        assert client.get("/tasks", params={"task_ids": "nope"}).json()["data"] == []

    def test_the_cursor_list_reconciles_recent_tasks(self, client: httpx.Client):
        body = T2V | {"options": {"external_task_id": "listed-1"}}
        task_id = client.post("/text-to-video/kling-3.0", json=body).json()["data"]["id"]
        listed = client.post("/tasks", json={"limit": 500}).json()["data"]
        assert task_id in [task["id"] for task in listed["result"]]
        assert listed["count"] == len(listed["result"])
        refused(client.post("/tasks", json={"limit": 501}), 400, 1201)


class TestLegacyStandard:
    @pytest.mark.parametrize(
        ("body", "status", "code"),
        [
            ({"prompt": "p"}, 400, 1201),  # defaults to the discontinued kling-v1
            ({"model_name": "kling-3.0-turbo", "prompt": "p"}, 404, 1203),
            ({"model_name": "kling-v2-6", "prompt": "p", "mode": "4k"}, 400, 1201),
            ({"model_name": "kling-v2-6", "prompt": "p", "duration": "7"}, 400, 1201),
            ({"model_name": "kling-v2-5-turbo", "prompt": "p", "sound": "on"}, 400, 1201),
            ({"model_name": "kling-v3", "prompt": "p", "aspect_ratio": "4:3"}, 400, 1201),
        ],
    )
    def test_text2video_refusals(self, client, body, status, code):
        refused(client.post("/v1/videos/text2video", json=body), status, code)

    def test_image2video_refuses_a_data_uri_and_an_oversized_image(self, client: httpx.Client):
        base = {"model_name": "kling-v3", "prompt": "p"}
        data_uri = "data:image/png;base64," + b64(png(400, 400))
        refused(client.post("/v1/videos/image2video", json=base | {"image": data_uri}), 400, 1201)
        big = png(400, 400) + b"\x00" * (10 * 1024 * 1024)
        refused(client.post("/v1/videos/image2video", json=base | {"image": b64(big)}), 400, 1201)

    def test_unknown_task_is_400_1201(self, client: httpx.Client):
        refused(client.get("/v1/videos/text2video/nope"), 400, 1201)


# ------------------------------------------------------------------ registry x capability


def kling_models() -> list[ModelSpec]:
    return [spec for spec in load_registry() if spec.provider == "kling"]


def durations(spec: ModelSpec) -> list[float]:
    spans = spec.durations
    if spans.grid:
        return list(spans.grid)
    count = round((spans.max_s - spans.min_s) / spans.step_s)
    return [spans.min_s + spans.step_s * index for index in range(count + 1)]


def variants(spec: ModelSpec) -> Iterator[dict[str, Any]]:
    """Every advertised capability once, the others at their first value."""
    sizes = list(spec.sizes.options)
    audios = {AudioSupport.OPTIONAL: [False, True], AudioSupport.ALWAYS: [True]}
    audios[AudioSupport.NONE] = [False]
    low = durations(spec)[0]
    for seconds in durations(spec):
        yield {"size": sizes[0], "duration": seconds, "audio": audios[spec.audio][0]}
    for size in sizes:
        for audio in audios[spec.audio]:
            yield {"size": size, "duration": low, "audio": audio}
            if spec.inputs.image:
                yield {"size": size, "duration": low, "audio": audio, "image": True}


def pipeline_request(spec: ModelSpec, variant: dict[str, Any], frame: Path, number: int) -> Any:
    """The request ``pipeline.attempts`` stores for an attempt (build_request + its attempt key)."""
    size = variant["size"]
    candidate = SimpleNamespace(
        model_id=spec.id,
        provider=spec.provider,
        provider_model=spec.provider_model,
        duration_s=variant["duration"],
        width=size.width,
        height=size.height,
        fps=spec.fps[0],
        audio=variant["audio"],
        params=dict(spec.params),
    )
    shot = {"id": f"s{number}", "prompt": "a lighthouse at dusk", "dialogue": "Hello there."}
    if variant.get("image"):
        shot["reference_image"] = str(frame)
    request = build_request(shot, candidate, SimpleNamespace(seed=7, shot_type="broll"))  # type: ignore[arg-type]
    request.extra["attempt_key"] = f"job-{spec.id}-s{number}-1"
    return request


def test_a_resubmitted_attempt_finds_its_first_task(emulator: EmulatorHandle, tmp_path: Path):
    spec = next(spec for spec in kling_models() if spec.id == "kling/v3-std")
    adapter = KlingAdapter(api_key="key-1", base_url=emulator.base_urls["kling"])
    variant = next(variants(spec))
    request = pipeline_request(spec, variant, tmp_path / "unused.png", 900)
    first = adapter.submit(request)
    assert adapter.submit(request) == first  # 1201 "already exists" -> looked up, not re-billed
    key = request.extra["attempt_key"]
    made = [job for job in emulator.emulator.jobs.values() if job.extra.get("external_id") == key]
    assert [job.id for job in made] == [first]


def test_an_unknown_in_progress_status_is_waited_on():
    from adapters._kling_legacy import legacy_status
    from adapters.kling import task_status

    assert (
        task_status("kling", {"id": "1", "status": "moderating"}).result.state is JobState.RUNNING
    )
    assert task_status("kling", {"id": "1", "status": "submitted"}).result.state is JobState.QUEUED
    assert legacy_status("kling", {"task_status": "queueing"}).result.state is JobState.RUNNING
    refused_task = {"id": "1", "status": "failed", "message": "Failure to pass the risk control"}
    error = task_status("kling", refused_task).result.error
    assert error is not None
    assert error.kind == "safety_refusal"


class TestLegacyBilling:
    """An ``AK:SK`` key: the adapter speaks the legacy standard."""

    def test_a_portrait_720p_task_is_billed_at_720p(self, emulator: EmulatorHandle):
        """The resolution is the frame's short side (a 9:16 720p clip is 1280 px high: it was
        billed as 4k)."""
        token = hs256_jwt({"iss": "ak", "exp": int(time.time()) + 600, "nbf": 0}, "sk")
        body = {"model_name": "kling-v3", "prompt": "p", "mode": "std", "duration": "5"}
        response = web.post(
            f"{emulator.base_urls['kling']}/v1/videos/text2video",
            json=body | {"aspect_ratio": "9:16"},
            headers={"Authorization": f"Bearer {token}"},
        )
        job = emulator.emulator.jobs[response.json()["data"]["task_id"]]
        assert job.spec.height > job.spec.width  # drawn small (the scenario's max_side)
        assert job.extra["resolution"] == "720p"

    def test_a_first_frame_goes_through_the_image_port(
        self, emulator: EmulatorHandle, tmp_path: Path
    ):
        """A square reference under a 16:9 video is cropped to 16:9 (Kling takes the video's
        aspect from the image), as on the new standard; it was sent as it was."""
        spec = next(spec for spec in kling_models() if spec.id == "kling/v3-std")
        variant = {"size": spec.sizes.options[0], "duration": 5.0, "audio": False, "image": True}
        frame = tmp_path / "square.png"
        frame.write_bytes(png(600, 600))
        adapter = KlingAdapter(api_key="ak:sk", base_url=emulator.base_urls["kling"])
        assert adapter.legacy
        submitted = adapter.submit(pipeline_request(spec, variant, frame, 901))
        job = emulator.emulator.jobs[submitted.rpartition("/")[2]]
        assert job.spec.width / job.spec.height == pytest.approx(16 / 9, rel=0.01)
