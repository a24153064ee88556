"""The strict fal emulator refuses what fal refuses, as fal does; every registry fal model and every
capability it advertises goes through the adapter and is accepted.

Where fal refuses: the gateway answers 401/404 to the submit itself; an app's runner accepts the
queued request, COMPLETES it and answers 422 on the result (emulators/routes/fal_apps.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from itertools import product
from pathlib import Path
from typing import Any

import cv2
import fal_client
import fal_client.client
import httpx
import numpy as np
import pytest

from adapters.base import GenerationRequest, JobState
from adapters.errors import RejectedInputError
from adapters.factory import build_adapter
from adapters.fal import FalAdapter
from emulators import EmulatorHandle, Scenario, start_emulator
from emulators.routes.fal_apps import MAX_DATA_URI
from foundation.settings import Settings
from pipeline.requests import build_request
from registry import AudioSupport, LifecycleStatus, ModelSpec, load_registry
from store.records import RouteCandidate, ShotRoute
from tests import web
from tests.emulators.strict_support import PNG

KEY = "key-id:key-secret"
TODAY = date(2026, 12, 4)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator(Scenario.model_validate({"media": {"max_side": 64}})) as handle:
        yield handle


@pytest.fixture
def client(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> fal_client.SyncClient:
    # fal_client builds queue URLs from a module constant (https://queue.fal.run/); no base_url.
    monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", emulator.base_urls["fal"] + "/")
    return fal_client.SyncClient(key=KEY)


def refused_result(client: fal_client.SyncClient, app: str, arguments: dict[str, Any]) -> Any:
    """Submit (accepted, as fal's queue accepts), wait for COMPLETED, return the result error."""
    handle = client.submit(app, arguments=arguments)
    deadline = time.monotonic() + 20
    status = handle.status()
    while not isinstance(status, fal_client.Completed) and time.monotonic() < deadline:
        time.sleep(0.05)
        status = handle.status()
    assert isinstance(status, fal_client.Completed)
    assert status.error is None  # fal reports runner validation on the result, not the status
    with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
        handle.get()
    return caught.value


def post(emulator: EmulatorHandle, app: str, auth: str | None) -> httpx.Response:
    headers = {"Authorization": auth} if auth is not None else {}
    url = f"{emulator.base_urls['fal']}/{app}"
    return web.post(url, json={"prompt": "a kite"}, headers=headers)


class TestGateway:
    def test_an_api_key_sent_as_bearer_is_401(self, emulator):
        answer = post(emulator, "fal-ai/veo3.1/fast", f"Bearer {KEY}")
        assert answer.status_code == 401
        assert answer.json() == {"detail": "Unauthorized"}

    def test_a_user_token_may_be_bearer(self, emulator):
        # fal-client 1.0.3 auth.py sends `Bearer <access token>` after `fal auth login`
        answer = post(emulator, "fal-ai/veo3.1/fast", "Bearer eyJhbGciOi.eyJzdWIiOi.c2ln")
        assert answer.status_code == 200

    def test_a_key_without_secret_is_401(self, client, emulator, monkeypatch):
        bad = fal_client.SyncClient(key="just-an-id")
        with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
            bad.submit("fal-ai/veo3.1/fast", arguments={"prompt": "a kite"})
        assert caught.value.status_code == 401
        assert caught.value.message == (
            "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."
        )

    def test_no_authorization_is_401(self, emulator):
        answer = post(emulator, "fal-ai/veo3.1/fast", None)
        assert answer.status_code == 401
        assert answer.json() == {"detail": "Authorization header is required"}

    @pytest.mark.parametrize("app", ["fal-ai/veo3", "fal-ai/veo3/fast", "fal-ai/no-such-app"])
    def test_an_app_fal_does_not_serve_is_404_at_submit(self, client, app):
        with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
            client.submit(app, arguments={"prompt": "a kite", "duration": "8s"})
        assert caught.value.status_code == 404
        assert caught.value.message == f"Application '{app}' not found"

    def test_a_path_the_app_does_not_declare_is_404_on_the_result(self, client):
        error = refused_result(client, "fal-ai/veo3.1/no-such-path", {"prompt": "a kite"})
        assert error.status_code == 404
        assert error.message == "Path /no-such-path not found"


VEO = "fal-ai/veo3.1/fast"
KLING = "fal-ai/kling-video/v3/pro/text-to-video"


class TestRunnerValidation:
    @pytest.mark.parametrize(
        ("app", "arguments", "field", "kind"),
        [
            (VEO, {"prompt": "p", "duration": "5s"}, "duration", "literal_error"),
            (VEO, {"prompt": "p", "duration": 8}, "duration", "literal_error"),
            (VEO, {"prompt": "p", "aspect_ratio": "1:1"}, "aspect_ratio", "literal_error"),
            (VEO, {"prompt": "p", "resolution": "1440p"}, "resolution", "literal_error"),
            (VEO, {"prompt": "p", "generate_audio": "maybe"}, "generate_audio", "bool_parsing"),
            (VEO, {"prompt": "p", "seed": "abc"}, "seed", "int_parsing"),
            (VEO, {"duration": "8s"}, "prompt", "missing"),
            (
                "fal-ai/veo3.1/lite",
                {"prompt": "p", "resolution": "4k"},
                "resolution",
                "literal_error",
            ),
            (KLING, {"prompt": "p", "duration": "16"}, "duration", "literal_error"),
            (KLING, {"prompt": "p", "duration": "5s"}, "duration", "literal_error"),
            (KLING, {"prompt": "p", "aspect_ratio": "4:3"}, "aspect_ratio", "literal_error"),
            (KLING, {"prompt": "x" * 2501}, "prompt", "string_too_long"),
            (KLING, {"prompt": "p", "cfg_scale": 1.5}, "cfg_scale", "less_than_equal"),
            ("fal-ai/veo3.1/image-to-video", {"prompt": "p"}, "image_url", "missing"),
        ],
    )
    def test_a_bad_input_completes_and_its_result_is_422(self, client, app, arguments, field, kind):
        error = refused_result(client, app, arguments)
        assert error.status_code == 422
        [item] = error.message  # fal_client puts the body's `detail` (the item list) there
        assert item["loc"] == ["body", field]
        assert item["type"] == kind
        assert isinstance(item["msg"], str)

    def test_the_enum_message_lists_the_allowed_values(self, client):
        error = refused_result(client, VEO, {"prompt": "p", "duration": "5s"})
        [item] = error.message
        assert item["msg"] == "Input should be '4s', '6s' or '8s'"
        assert item["input"] == "5s"
        assert item["ctx"] == {"expected": "'4s', '6s' or '8s'"}

    def test_an_inline_image_over_10_mib_is_refused(self, client):
        uri = "data:image/png;base64," + "A" * MAX_DATA_URI
        app = "fal-ai/veo3.1/fast/image-to-video"
        error = refused_result(client, app, {"prompt": "p", "image_url": uri})
        assert error.status_code == 422
        [item] = error.message
        assert item["type"] == "string_too_long"
        assert item["ctx"] == {"max_length": MAX_DATA_URI}

    def test_kling_wants_a_prompt_or_a_multi_prompt(self, client):
        error = refused_result(client, KLING, {"duration": "5"})
        assert error.status_code == 422
        assert error.message[0]["loc"] == ["body"]

    def test_an_image_over_the_data_uri_limit_is_re_encoded_within_it(self, emulator, tmp_path):
        big = tmp_path / "big.png"  # noise: the PNG is larger than fal's data URI limit
        noise = np.random.default_rng(1).integers(0, 256, (1440, 2560, 3), dtype=np.uint8)
        big.write_bytes(cv2.imencode(".png", noise)[1].tobytes())
        assert len(big.read_bytes()) * 4 // 3 > MAX_DATA_URI
        adapter = fal_adapter(emulator)
        request = GenerationRequest("s", "p", 8, 1280, 720, 24, "fal/veo3.1", VEO)
        request = GenerationRequest(**{**request.__dict__, "reference_image": big})
        uri = adapter.build_body(request)["image_url"]
        assert uri.startswith("data:image/jpeg;base64,")
        assert len(uri) <= MAX_DATA_URI
        submissions = emulator.emulator.stats.submissions
        before = submissions.get(f"{VEO}/image-to-video", 0)
        adapter.submit(request)  # the emulator, which refuses longer data URIs, takes it
        assert submissions.get(f"{VEO}/image-to-video", 0) == before + 1

    def test_an_unreadable_image_is_refused_before_spending(self, emulator, tmp_path):
        broken = tmp_path / "broken.png"
        broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
        adapter = fal_adapter(emulator)
        request = GenerationRequest("s", "p", 8, 1280, 720, 24, "fal/veo3.1", VEO)
        submissions = emulator.emulator.stats.submissions
        before = submissions.get(f"{VEO}/image-to-video", 0)
        with pytest.raises(RejectedInputError, match="not a readable image"):
            adapter.submit(GenerationRequest(**{**request.__dict__, "reference_image": broken}))
        assert submissions.get(f"{VEO}/image-to-video", 0) == before


def fal_adapter(emulator: EmulatorHandle) -> FalAdapter:
    built = build_adapter(
        "fal", settings=Settings(_env_file=None), base_url=emulator.base_urls["fal"]
    )
    assert isinstance(built, FalAdapter)
    return built


# ----------------------------------------------------------------- registry x capabilities


def routable_fal_models() -> list[ModelSpec]:
    return [
        spec
        for spec in load_registry()
        if spec.provider == "fal" and spec.lifecycle.status(TODAY) is not LifecycleStatus.RETIRED
    ]


def durations(spec: ModelSpec, resolution: str) -> list[float]:
    allowed = spec.durations_for(resolution)
    if allowed.grid:
        return list(allowed.grid)
    step = allowed.step_s or 1.0
    count = round((allowed.max_s - allowed.min_s) / step)
    return [allowed.min_s + step * i for i in range(count + 1)]


def capabilities(spec: ModelSpec) -> Iterator[tuple[int, int, str, float, bool, bool]]:
    audios = {AudioSupport.OPTIONAL: (False, True), AudioSupport.ALWAYS: (True,)}
    images = (False, True) if spec.inputs.image else (False,)
    for option in spec.sizes.options:
        for seconds, audio, image in product(
            durations(spec, option.resolution), audios.get(spec.audio, (False,)), images
        ):
            yield option.width, option.height, option.resolution, seconds, audio, image


def request_for(spec: ModelSpec, cap: tuple[int, int, str, float, bool, bool], ref: Path):
    """The request exactly as ``pipeline.requests.build_request`` builds it for a routed shot."""
    width, height, _, seconds, audio, image = cap
    candidate = RouteCandidate(
        spec.id, "fal", spec.provider_model, 1.0, seconds, width, height, 24.0, audio, (),
        dict(spec.params),
    )  # fmt: skip
    shot = {"id": "s1", "prompt": "a lighthouse at dusk", "dialogue": "Hello there."}
    if image:
        shot["reference_image"] = str(ref)
    return build_request(
        shot, candidate, ShotRoute((candidate,), seed=7)
    )  # the router seeds every route


@pytest.fixture(scope="module")
def parked() -> Iterator[EmulatorHandle]:
    """One job per app renders; every later one waits in the queue (nothing else is rendered)."""
    fal = {"concurrency": 1, "latency": {"seconds": 3600}}
    scenario = Scenario.model_validate({"providers": {"fal": fal}, "media": {"max_side": 32}})
    with start_emulator(scenario) as handle:
        yield handle


def test_the_registry_names_routable_fal_models():
    ids = {spec.id for spec in routable_fal_models()}
    assert {"fal/veo3.1", "fal/veo3.1-fast", "fal/kling-v3-pro"} <= ids
    assert not ids & {"fal/veo3", "fal/veo3-fast"}  # Veo 3.0: retired, and fal dropped the apps


@pytest.mark.parametrize("spec", routable_fal_models(), ids=lambda spec: spec.id)
def test_every_advertised_capability_is_accepted(spec: ModelSpec, parked, tmp_path):
    ref = tmp_path / "start.png"
    ref.write_bytes(PNG)
    adapter = fal_adapter(parked)
    seen = 0
    for cap in capabilities(spec):
        request = request_for(spec, cap, ref)
        request_id = adapter.submit(request).rpartition("/")[2]
        job = parked.emulator.jobs[request_id]
        assert "fal_runner_error" not in job.extra, (cap, job.extra.get("fal_runner_error"))
        sent = job.extra["input"]
        assert isinstance(sent, dict)
        width, height, resolution, seconds, audio, image = cap
        if "veo3.1" in spec.provider_model:
            assert sent["resolution"] == resolution  # 1080p is asked for, not left at 720p
            assert sent["duration"] == f"{seconds:g}s"
        else:
            assert sent["duration"] == f"{seconds:g}"
        assert sent["generate_audio"] is audio
        assert ("seed" in sent) is spec.seed, "a seed only where the app's input has one"
        # Veo31Input's auto_fix defaults to true: fal would rewrite a refused prompt and bill
        # the rewritten video; Kling's input has no such field
        assert sent.get("auto_fix") is (False if "veo3.1" in spec.provider_model else None)
        assert ("image_url" in sent or "start_image_url" in sent) is image
        assert sent.get("aspect_ratio", "9:16" if height > width else "16:9") == (
            "9:16" if height > width else "16:9" if width > height else "1:1"
        )
        seen += 1
    assert seen >= len(spec.sizes.options)


def test_a_routed_request_renders_end_to_end(emulator, tmp_path):
    """Round trip through status, result and download (fal answers the result with 200)."""
    [spec] = [s for s in routable_fal_models() if s.id == "fal/veo3.1-fast"]
    option = next(o for o in spec.sizes.options if o.resolution == "1080p")
    request = request_for(spec, (option.width, option.height, "1080p", 8.0, True, False), tmp_path)
    adapter = fal_adapter(emulator)
    job_id = adapter.submit(request)
    deadline = time.monotonic() + 30
    result = adapter.poll(job_id)
    while result.state not in (JobState.SUCCEEDED, JobState.FAILED) and time.monotonic() < deadline:
        time.sleep(0.05)
        result = adapter.poll(job_id)
    assert result.state is JobState.SUCCEEDED, result.error
    asset = adapter.fetch(job_id, tmp_path / "assets")
    assert asset.has_audio
    assert asset.width > asset.height


# ----------------------------------------------------------------- queue states the adapter reads


def scripted_adapter(status: dict[str, Any], result: tuple[int, Any]) -> FalAdapter:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/status"):
            return httpx.Response(200, json=status)
        return httpx.Response(result[0], json=result[1])

    return FalAdapter(api_key=KEY, transport=httpx.MockTransport(answer))


@pytest.mark.parametrize("state", ["IN_PROGRESS", "STARTING", "RETRYING", ""])
def test_an_unknown_in_progress_state_is_waited_on(state):
    adapter = scripted_adapter({"status": state}, (500, {"detail": "not asked"}))
    assert adapter.poll("fal-ai/veo3.1/requests/r1").state is JobState.RUNNING


def test_a_completed_request_whose_result_is_422_failed_as_rejected_input():
    detail = [{"loc": ["body", "duration"], "msg": "Input should be '4s'", "type": "literal_error"}]
    adapter = scripted_adapter({"status": "COMPLETED", "logs": []}, (422, {"detail": detail}))
    result = adapter.poll("fal-ai/veo3.1/requests/r1")
    assert result.state is JobState.FAILED
    assert isinstance(result.error, RejectedInputError)


def test_a_completed_status_carrying_an_error_is_a_failure():
    status = {"status": "COMPLETED", "logs": [], "error": "Runner failed", "error_type": "x"}
    adapter = scripted_adapter(status, (500, {"detail": "not asked"}))
    result = adapter.poll("fal-ai/veo3.1/requests/r1")
    assert result.state is JobState.FAILED
    assert "Runner failed" in str(result.error)


@pytest.mark.parametrize(
    "failure",
    [
        (502, "<html><center>nginx</center></html>"),  # a gateway's answer
        (429, {"detail": "Too many requests"}),
        httpx.ConnectError("connection reset"),
    ],
    ids=["gateway-502", "429", "reset"],
)
def test_a_completed_request_whose_result_read_fails_in_transit_is_read_again(failure):
    """fal made and bills the video (fal-client 1.0.3 retries this read): the read fails, the
    request stays running for the poll loop and its deadline, and the next read takes the video.
    It was failed as fal's unbilled 5xx, and the shot rendered and paid for again."""
    broken = {"result": True}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/status"):
            return httpx.Response(200, json={"status": "COMPLETED", "logs": []})
        if not broken["result"]:
            return httpx.Response(200, json={"video": {"url": "https://fal.media/v.mp4"}})
        if isinstance(failure, Exception):
            raise failure
        status, body = failure
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    adapter = FalAdapter(api_key=KEY, transport=httpx.MockTransport(answer))
    assert adapter.poll("fal-ai/veo3.1/requests/r1").state is JobState.RUNNING
    broken["result"] = False
    result = adapter.poll("fal-ai/veo3.1/requests/r1")
    assert result.state is JobState.SUCCEEDED, result.error


@pytest.mark.parametrize("status", [500, 503, 504])
def test_a_5xx_fal_itself_answers_on_the_result_fails_the_request_unbilled(status: int):
    """fal's own server error (its headers on the answer), which fal-client does not retry: the
    request failed, and fal charges no 5xx (docs.fal.ai/faq). A 504 was read again until the
    deadline and settled as lost, at its quote."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/status"):
            return httpx.Response(200, json={"status": "COMPLETED", "logs": []})
        headers = {"x-fal-request-id": "r1", "x-fal-error-type": "server_error"}
        return httpx.Response(status, json={"detail": "Internal error"}, headers=headers)

    result = FalAdapter(api_key=KEY, transport=httpx.MockTransport(answer)).poll(
        "fal-ai/veo3.1/requests/r1"
    )
    assert result.state is JobState.FAILED
    assert result.error is not None
    assert result.error.billing_hint == "provider_error_5xx"
