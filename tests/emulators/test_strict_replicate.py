"""The Replicate emulator refuses what Replicate's create endpoints refuse, with its status and
problem body, honours ``Prefer: wait``, and accepts every request the adapter sends for the
registry's Replicate models (rules and sources: ``emulators/routes/_replicate_rules.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from replicate.client import Client
from replicate.exceptions import ReplicateError

from adapters.base import JobState
from adapters.factory import build_adapter
from adapters.replicate import ReplicateAdapter
from emulators import EmulatorHandle, Scenario, start_emulator
from foundation.settings import Settings
from tests import web
from tests.emulators._routed import reference_png, routed_requests

FAIL_EVERY_JOB = {"faults": [{"kind": "job_failure", "rate": 1.0}]}  # accepted, never rendered
VEO = "google/veo-3.1-fast"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    scenario = Scenario.model_validate(
        {
            "providers": {"replicate": FAIL_EVERY_JOB},
            "models": {
                "emu/quick": {"faults": [], "latency": {"seconds": 0.2}},
                "emu/slow": {"faults": [], "latency": {"seconds": 30.0}},
            },
            "media": {"max_side": 32},
        }
    )
    with start_emulator(scenario) as handle:
        yield handle


@pytest.fixture(scope="module")
def base(emulator: EmulatorHandle) -> str:
    return emulator.base_urls["replicate"] + "/v1"


@pytest.fixture(scope="module")
def client(emulator: EmulatorHandle) -> Client:
    return Client(api_token="key", base_url=emulator.base_urls["replicate"])


def post(url: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return web.post(url, json=body, headers={"Authorization": "Bearer k", **headers})


def invalid(field: str, kind: str, text: str) -> dict[str, Any]:
    detail = f"- {field}: {text}\n" if field else f"- {text}\n"
    return {
        "detail": detail,
        "status": 422,
        "title": "Input validation failed",
        "invalid_fields": [{"type": kind, "field": field, "description": text}],
    }


class TestRefusals:
    def test_unknown_official_model(self, client: Client, base: str):
        with pytest.raises(ReplicateError) as caught:
            client.predictions.create(model="google/veo-9", input={"prompt": "a kite"})
        assert (caught.value.status, caught.value.detail) == (
            404,
            "The requested resource could not be found.",
        )
        answer = post(f"{base}/models/google/veo-9/predictions", {"input": {"prompt": "a kite"}})
        assert answer.json() == {
            "detail": "The requested resource could not be found.",
            "status": 404,
        }

    def test_unknown_version(self, client: Client):
        with pytest.raises(ReplicateError) as caught:
            client.predictions.create(version="not-a-version", input={"prompt": "a kite"})
        error = caught.value
        assert (error.status, error.title) == (422, "Invalid version or not permitted")
        assert error.detail is not None
        assert error.detail.startswith("The specified version does not exist")

    def test_version_is_required(self, base: str):
        answer = post(f"{base}/predictions", {"input": {"prompt": "a kite"}})
        assert answer.status_code == 422
        assert answer.json() == invalid("", "required", "version is required")

    def test_additional_property(self, base: str):
        body = {"model": VEO, "input": {"prompt": "a kite"}}
        answer = post(f"{base}/models/{VEO}/predictions", body)
        assert answer.status_code == 422
        assert answer.json() == invalid(
            "", "additional_property_not_allowed", "Additional property model is not allowed"
        )

    @pytest.mark.parametrize(
        ("name", "value", "kind", "text"),
        [
            ("duration", 5, "enum", "duration must be one of the following: 4, 6, 8"),
            (
                "resolution",
                "4k",
                "enum",
                'resolution must be one of the following: "720p", "1080p"',
            ),
            (
                "aspect_ratio",
                "1:1",
                "enum",
                'aspect_ratio must be one of the following: "16:9", "9:16"',
            ),
            ("duration", "8", "invalid_type", "Invalid type. Expected: integer, given: string"),
            (
                "generate_audio",
                "no",
                "invalid_type",
                "Invalid type. Expected: boolean, given: string",
            ),
        ],
    )
    def test_input_against_the_model_schema(
        self, client: Client, name: str, value: Any, kind: str, text: str
    ):
        with pytest.raises(ReplicateError) as caught:
            client.predictions.create(model=VEO, input={"prompt": "a kite", name: value})
        error = caught.value
        assert (error.status, error.title) == (422, "Input validation failed")
        assert error.detail == f"- input.{name}: {text}\n"

    def test_prompt_is_required(self, base: str):
        answer = post(f"{base}/models/{VEO}/predictions", {"input": {"duration": 4}})
        assert answer.status_code == 422
        assert answer.json() == invalid("input", "required", "prompt is required")

    def test_reference_images_only_on_veo_3_1(self, base: str):
        refs = {"prompt": "a kite", "reference_images": ["data:,"] * 4}
        answer = post(f"{base}/models/google/veo-3.1/predictions", {"input": refs})
        assert answer.status_code == 422
        assert answer.json()["invalid_fields"][0]["field"] == "input.reference_images"

    @pytest.mark.parametrize(
        ("authorization", "detail"),
        [
            (None, "You did not pass an authentication token"),
            ("Key k", "You did not pass a valid authentication token"),
        ],
    )
    def test_bearer_auth(self, base: str, authorization: str | None, detail: str):
        headers = {"Authorization": authorization} if authorization else {}
        answer = web.post(
            f"{base}/models/{VEO}/predictions", json={"input": {"prompt": "p"}}, headers=headers
        )
        assert answer.status_code == 401
        assert answer.json() == {"detail": detail, "status": 401, "title": "Unauthenticated"}

    def test_unknown_prediction(self, base: str):
        answer = web.get(f"{base}/predictions/nope", headers={"Authorization": "Bearer k"})
        assert answer.status_code == 404
        assert answer.json()["status"] == 404


class TestAccepted:
    def test_schema_defaults(self, emulator: EmulatorHandle, client: Client):
        prediction = client.predictions.create(model=VEO, input={"prompt": "a kite"})
        spec = emulator.emulator.jobs[prediction.id].spec
        # Replicate's Veo 3.1 Fast defaults: 8 s, 1080p, 16:9 and audio on
        assert (spec.duration_s, spec.audio) == (8.0, True)
        assert prediction.status == "starting"

    def test_token_scheme(self, base: str):
        answer = web.post(
            f"{base}/models/{VEO}/predictions",
            json={"input": {"prompt": "p"}},
            headers={"Authorization": "Token k"},
        )
        assert answer.status_code == 201


class TestPreferWait:
    def test_holds_until_the_prediction_ends(self, client: Client):
        # replicate 1.0.7 drops ``wait`` on ``predictions.create(model=...)``; the models
        # resource sends it as ``Prefer: wait=5``
        prediction = client.models.predictions.create(
            model="emu/quick", input={"prompt": "a kite", "duration": 1}, wait=5
        )
        assert prediction.status == "succeeded"
        assert isinstance(prediction.output, str)

    def test_answers_the_running_prediction_after_the_wait(self, base: str):
        answer = post(
            f"{base}/models/emu/slow/predictions", {"input": {"prompt": "p"}}, Prefer="wait=1"
        )
        assert answer.status_code == 201
        assert answer.json()["status"] in ("starting", "processing")

    def test_without_the_header_answers_at_once(self, base: str):
        answer = post(f"{base}/models/emu/slow/predictions", {"input": {"prompt": "p"}})
        assert answer.json()["status"] == "starting"


def test_every_registry_capability_is_accepted(emulator: EmulatorHandle, tmp_path: Path):
    """The adapter's request for every Replicate registry model and each advertised size x
    duration x audio on/off x image input is accepted, and the emulator sees the routed shape
    (``generate_audio: false`` included: Veo on Replicate renders audio unless told not to)."""
    settings = Settings(_env_file=None)
    adapter = build_adapter(
        "replicate", settings=settings, base_url=emulator.base_urls["replicate"]
    )
    image = reference_png(tmp_path)
    seen = 0
    for label, request in routed_requests("replicate", date(2026, 12, 4), image):
        job = emulator.emulator.jobs[adapter.submit(request)]
        sent = job.extra["input"]
        assert isinstance(sent, dict), label
        assert (sent["duration"], sent["generate_audio"]) == (request.duration_s, request.audio), (
            label
        )
        assert job.spec.audio is request.audio, label
        assert ("image" in sent) is (request.reference_image is not None), label
        seen += 1
    # per model: 720p (2 ratios x 3 lengths) + 1080p (2 ratios x 8 s), x audio on/off x image
    assert seen == 2 * (2 * 3 + 2 * 1) * 2 * 2


@pytest.mark.parametrize("status", ["queued", "booting", ""])
def test_unknown_status_is_still_running(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, status: str
):
    settings = Settings(_env_file=None)
    adapter = build_adapter(
        "replicate", settings=settings, base_url=emulator.base_urls["replicate"]
    )
    assert isinstance(adapter, ReplicateAdapter)
    monkeypatch.setattr(adapter._http, "json", lambda *a, **k: {"id": "p", "status": status})
    assert adapter.poll("p").state is JobState.RUNNING
