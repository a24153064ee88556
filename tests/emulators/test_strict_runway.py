"""The Runway emulator refuses what Runway refuses (runwayml 5.24.0 params types, Runway's docs),
with Runway's 400 ``{"error": "Validation of body failed", "issues", "docUrl"}`` and 401
``{"error"}``; and it accepts every request the adapter sends for what the registry advertises."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from runwayml import AuthenticationError, BadRequestError, RunwayML

from adapters.base import JobState
from adapters.errors import RejectedInputError
from adapters.runway import RunwayAdapter
from emulators import EmulatorHandle, start_emulator
from emulators.scenario import Scenario
from registry import BillingOutcome, load_registry
from tests import web
from tests.emulators.strict_support import PNG, quiet_scenario

HEADERS = {"Authorization": "Bearer key", "X-Runway-Version": "2024-11-06"}
IMAGE = "data:image/png;base64," + base64.b64encode(PNG).decode()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator(quiet_scenario("runway")) as handle:
        yield handle


@pytest.fixture
def client(emulator: EmulatorHandle) -> RunwayML:
    return RunwayML(api_key="key", base_url=emulator.base_urls["runway"], max_retries=0)


def post(
    emulator: EmulatorHandle, path: str, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return web.post(
        f"{emulator.base_urls['runway']}/v1/{path}", json=body, headers={**HEADERS, **headers}
    )


def refused_by_sdk(call: Any, **kwargs: Any) -> str:
    with pytest.raises(BadRequestError) as caught:
        call(**kwargs)
    assert caught.value.status_code == 400
    body = caught.value.body
    assert isinstance(body, dict)
    assert set(body) == {"error", "issues", "docUrl"}
    assert body["error"] == "Validation of body failed"
    [issue] = body["issues"]
    assert set(issue) == {"code", "message", "path"}
    assert isinstance(issue["message"], str)
    return str(issue["message"])


class TestRefusedThroughTheSdk:
    def test_ratio_not_in_the_models_literals(self, client: RunwayML):
        message = refused_by_sdk(
            client.text_to_video.create,
            model="gen4.5",
            prompt_text="a kite",
            ratio="123:456",
            duration=5,
        )
        assert "123:456" in message

    def test_unknown_model(self, client: RunwayML):
        message = refused_by_sdk(
            client.text_to_video.create,
            model="gen5",
            prompt_text="a kite",
            ratio="1280:720",
            duration=5,
        )
        assert "gen5" in message

    def test_gen4_turbo_is_image_to_video_only(self, client: RunwayML):
        refused_by_sdk(
            client.text_to_video.create,
            model="gen4_turbo",
            prompt_text="a kite",
            ratio="1280:720",
            duration=5,
        )

    def test_gen45_duration_outside_2_to_10(self, client: RunwayML):
        message = refused_by_sdk(
            client.text_to_video.create,
            model="gen4.5",
            prompt_text="a kite",
            ratio="1280:720",
            duration=11,
        )
        assert "duration" in message

    def test_veo_duration_not_4_6_or_8(self, client: RunwayML):
        refused_by_sdk(
            client.text_to_video.create,
            model="veo3.1",
            prompt_text="a kite",
            ratio="1280:720",
            duration=5,
        )

    def test_gen45_text_ratio_only_landscape_or_portrait(self, client: RunwayML):
        refused_by_sdk(
            client.text_to_video.create,
            model="gen4.5",
            prompt_text="a kite",
            ratio="960:960",
            duration=5,
        )

    def test_veo_ratio_is_not_a_gen4_ratio(self, client: RunwayML):
        refused_by_sdk(
            client.image_to_video.create,
            model="veo3.1_fast",
            prompt_image=IMAGE,
            ratio="1104:832",
            duration=4,
        )

    def test_prompt_over_1000_utf16_units(self, client: RunwayML):
        message = refused_by_sdk(
            client.text_to_video.create,
            model="gen4.5",
            prompt_text="🎬" * 501,  # 501 characters, 1002 UTF-16 code units
            ratio="1280:720",
            duration=5,
        )
        assert "UTF-16" in message

    def test_gen45_takes_no_last_frame(self, client: RunwayML):
        refused_by_sdk(
            client.image_to_video.create,
            model="gen4.5",
            prompt_image=[{"uri": IMAGE, "position": "last"}],
            prompt_text="a kite",
            ratio="1280:720",
            duration=5,
        )

    def test_veo_last_frame_needs_a_first(self, client: RunwayML):
        message = refused_by_sdk(
            client.image_to_video.create,
            model="veo3.1",
            prompt_image=[{"uri": IMAGE, "position": "last"}],
            ratio="1280:720",
        )
        assert "first frame" in message

    def test_data_uri_over_5mb(self, client: RunwayML):
        big = "data:image/png;base64," + "A" * (5 * 1024 * 1024)
        message = refused_by_sdk(
            client.image_to_video.create,
            model="gen4_turbo",
            prompt_image=big,
            ratio="1280:720",
        )
        assert "5MB" in message

    def test_image_must_be_https_upload_or_data_uri(self, client: RunwayML):
        refused_by_sdk(
            client.image_to_video.create,
            model="gen4_turbo",
            prompt_image="http://example.com/a.png",
            ratio="1280:720",
        )

    def test_wrong_key_scheme_is_401(self, emulator: EmulatorHandle):
        client = RunwayML(api_key="key", base_url=emulator.base_urls["runway"], max_retries=0)
        with pytest.raises(AuthenticationError) as caught:
            client.with_options(default_headers={"Authorization": "Key key"}).tasks.retrieve("x")
        assert caught.value.status_code == 401
        assert caught.value.body == {"error": "Invalid API key"}


class TestRefusedOverHttp:
    """Requests the SDK's signatures cannot send (missing required fields, headers)."""

    def test_missing_runway_version(self, emulator: EmulatorHandle):
        body = {"model": "gen4.5", "promptText": "a", "ratio": "1280:720", "duration": 5}
        answer = web.post(
            f"{emulator.base_urls['runway']}/v1/text_to_video",
            json=body,
            headers={"Authorization": "Bearer key"},
        )
        assert answer.status_code == 400
        assert "X-Runway-Version" in answer.json()["error"]

    def test_missing_key(self, emulator: EmulatorHandle):
        answer = web.get(
            f"{emulator.base_urls['runway']}/v1/tasks/x",
            headers={"X-Runway-Version": "2024-11-06"},
        )
        assert answer.status_code == 401
        assert answer.json() == {"error": "Invalid API key"}

    @pytest.mark.parametrize(
        ("path", "body", "words"),
        [
            (
                "text_to_video",
                {"model": "gen4.5", "ratio": "1280:720", "duration": 5},
                "promptText",
            ),
            (
                "text_to_video",
                {"model": "gen4.5", "promptText": "a", "ratio": "1280:720"},
                "duration",
            ),
            ("image_to_video", {"model": "gen4_turbo", "ratio": "1280:720"}, "promptImage"),
            ("text_to_video", {"model": "veo3.1", "promptText": "a"}, "ratio"),
            (
                "text_to_video",
                {"model": "gen4.5", "promptText": "a", "ratio": "1280:720", "duration": 5.5},
                "integer",
            ),
        ],
    )
    def test_required_fields_and_types(
        self, emulator: EmulatorHandle, path: str, body: dict[str, Any], words: str
    ):
        answer = post(emulator, path, body)
        assert answer.status_code == 400
        assert answer.json()["error"] == "Validation of body failed"
        assert words in answer.json()["issues"][0]["message"]


def test_tasks_report_their_estimated_and_charged_credits(emulator: EmulatorHandle):
    created = post(
        emulator,
        "text_to_video",
        {"model": "veo3.1", "promptText": "a kite", "ratio": "1280:720", "duration": 4},
    )
    task = web.get(
        f"{emulator.base_urls['runway']}/v1/tasks/{created.json()['id']}", headers=HEADERS
    ).json()
    assert task["status"] in ("PENDING", "THROTTLED", "RUNNING")
    assert task["estimatedCost"] == {"credits": 4 * 40}, "veo3.1 with audio (the default)"


def test_a_create_answers_its_estimated_cost(emulator: EmulatorHandle):
    """runwayml 5.24.0 ``types/text_to_video_create_response.py``: ``estimatedCost`` is required
    (the SDK's ``create`` hides it behind its polling wrapper, so the body is read here)."""
    from runwayml.types import TextToVideoCreateResponse

    body = {"model": "gen4.5", "promptText": "a kite", "ratio": "1280:720", "duration": 2}
    created = TextToVideoCreateResponse.model_validate(post(emulator, "text_to_video", body).json())
    assert created.estimated_cost.credits == 2 * 12, "gen4.5: 12 credits a second"


def test_a_cancelled_task_cannot_be_read_again():
    """runwayml 5.24.0 ``tasks.delete``: "Aborted and deleted tasks will not be able to be fetched
    again"; a live GET after DELETE (2026-08-26) answered 404 ``{"error": "Could not find
    Task"}``. The charge of a cancel seen RUNNING is the registry's rule: billed ("cancellation
    does not refund credits")."""
    scenario = Scenario.model_validate(
        {
            "providers": {
                "runway": {
                    "concurrency": 1,
                    "latency": {"seconds": 3600.0, "queued_fraction": 0.0},
                }
            },
            "media": {"max_side": 32},
        }
    )
    body = {"model": "gen4.5", "promptText": "a kite", "ratio": "1280:720", "duration": 2}
    with start_emulator(scenario) as handle:
        ids = [post(handle, "text_to_video", body).json()["id"] for _ in range(2)]
        tasks_url = f"{handle.base_urls['runway']}/v1/tasks"
        seen = [web.get(f"{tasks_url}/{i}", headers=HEADERS).json()["status"] for i in ids]
        assert seen == ["RUNNING", "THROTTLED"]
        for task_id in ids:
            assert web.delete(f"{tasks_url}/{task_id}", headers=HEADERS).status_code == 204
        ended = [web.get(f"{tasks_url}/{i}", headers=HEADERS) for i in ids]
    assert [(r.status_code, r.json()) for r in ended] == [
        (404, {"error": "Could not find Task"})
    ] * 2
    rules = load_registry().billing("runway")
    assert rules.rule(BillingOutcome.CANCEL_RUNNING) == "billed"


def test_a_refusal_reaches_the_adapter_with_its_issue():
    """The bare "Validation of body failed" said nothing: the adapter's error carries the
    issues' paths and messages."""
    refusal = {
        "error": "Validation of body failed",
        "issues": [{"code": "too_big", "message": "at most 1000", "path": ["promptText"]}],
        "docUrl": "https://docs.dev.runwayml.com/api",
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(400, json=refusal))
    adapter = RunwayAdapter(api_key="key", base_url="https://runway.test", transport=transport)
    with pytest.raises(RejectedInputError) as refused:
        adapter._http.json("POST", "/v1/text_to_video", json={})
    assert "Validation of body failed: promptText: at most 1000" in str(refused.value)


def mock_adapter(status: dict[str, Any]) -> RunwayAdapter:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=status))
    return RunwayAdapter(api_key="key", base_url="https://runway.test", transport=transport)


class TestStatusMapping:
    def test_an_unknown_status_is_still_running(self):
        result = mock_adapter({"id": "t", "status": "WARMING_UP"}).poll("t")
        assert result.state is JobState.RUNNING
        assert result.error is None

    def test_failed_is_failed(self):
        task = {"id": "t", "status": "FAILED", "failure": "no", "failureCode": "SAFETY.INPUT.TEXT"}
        result = mock_adapter(task).poll("t")
        assert result.state is JobState.FAILED
        assert result.error is not None
        assert result.error.kind == "safety_refusal"

    def test_succeeded_reports_the_charged_credits(self, tmp_path: Path):
        task = {
            "id": "t",
            "status": "SUCCEEDED",
            "output": ["https://x/a.mp4"],
            "cost": {"credits": 60},
        }
        status = mock_adapter(task)._status("t")
        assert status.result.state is JobState.SUCCEEDED
        assert status.cost_usd == pytest.approx(0.60)
