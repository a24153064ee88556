"""What a provider error tells the ledger (``ProviderError.provider_job``, ``was_running``,
``billing_hint``): fal's image client names the queued request every error past the submit came
after and cancels it on its own deadline; a synchronous client marks an error raised after its 200
answer as generated, and one from an error status as no job."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from adapters._http import cap_answers
from adapters._images_local import encode
from adapters.errors import (
    ANSWERED,
    SENT,
    ProviderError,
    ProviderFailureError,
    ProviderTimeoutError,
    RejectedInputError,
    SafetyRefusalError,
)
from adapters.factory import EMULATOR_KEY
from adapters.image_clients import build_image_client
from adapters.images import ImageRequest
from adapters.speech import SpeechClient, SpeechRequest
from emulators import EmulatorHandle, Scenario, start_emulator
from ledger.billing import outcome_of_failure
from tests import web

PNG = encode(np.full((8, 8, 3), 90, np.uint8), "image/png")
JOB = "fal-ai/flux/requests/r1"


def outcome(error: ProviderError) -> str | None:
    """The billing outcome the ledger reads off the error (``stage_tries.failed``)."""
    found = outcome_of_failure(
        error.kind,
        error.billing_hint,
        had_job=error.provider_job is not None,
        was_running=error.was_running,
    )
    return str(found) if found else None


@pytest.fixture(scope="module")
def slow_fal() -> Iterator[EmulatorHandle]:
    queued = {"latency": {"dist": "fixed", "seconds": 30.0, "queued_fraction": 1.0}}
    running = {"latency": {"dist": "fixed", "seconds": 30.0, "queued_fraction": 0.0}}
    scenario = Scenario.model_validate(
        {
            "models": {
                "fal-ai/flux/schnell": queued,
                "fal-ai/flux-pro/kontext/text-to-image": running,
            }
        }
    )
    with start_emulator(scenario) as handle:
        yield handle


@pytest.mark.parametrize(
    ("model", "was_running", "billed_as"),
    [
        ("fal-ai/flux/schnell", False, "cancel_queued"),
        ("fal-ai/flux-pro/kontext", True, "cancel_running"),
    ],
)
def test_fal_cancels_an_image_request_on_its_deadline_and_says_where_it_was(
    slow_fal, model, was_running, billed_as
):
    fal = build_image_client(
        "fal_queue", "fal", api_key=EMULATOR_KEY, base_url=f"{slow_fal.base_url}/fal"
    )
    fal.timeout = 0.6  # type: ignore[attr-defined]
    with pytest.raises(ProviderTimeoutError) as caught:
        fal.generate(ImageRequest(model, "a fox", aspect="16:9"))
    error = caught.value
    assert "/requests/" in str(error.provider_job)
    assert (error.billing_hint, error.was_running, outcome(error)) == (
        "cancelled", was_running, billed_as,
    )  # fmt: skip
    status = web.get(
        f"{slow_fal.base_url}/fal/{error.provider_job}/status",
        headers={"Authorization": f"Key {EMULATOR_KEY}"},
    ).json()
    assert (status["status"], status["error_type"]) == ("COMPLETED", "request_cancelled")


def scripted_fal(answers: dict[tuple[str, str], list[httpx.Response]]) -> object:
    """fal's image client on a transport answering each (method, path suffix) in turn."""

    def handle(request: httpx.Request) -> httpx.Response:
        for (method, suffix), queue in answers.items():
            if request.method == method and request.url.path.endswith(suffix):
                return queue.pop(0) if len(queue) > 1 else queue[0]
        raise AssertionError(f"unexpected {request.method} {request.url}")

    return build_image_client(
        "fal_queue", "fal", api_key="k", transport=httpx.MockTransport(handle), timeout=0.0
    )


def fal_image(**extra: object) -> httpx.Response:
    url = f"data:image/png;base64,{base64.b64encode(PNG).decode()}"
    return httpx.Response(200, json={"images": [{"url": url, "width": 8, "height": 8}]} | extra)


SUBMITTED = httpx.Response(200, json={"request_id": "r1"})


def test_a_request_that_completes_before_fals_cancel_is_taken_after_all():
    fal = scripted_fal(
        {
            ("POST", "/fal-ai/flux/schnell"): [SUBMITTED],
            ("PUT", "/cancel"): [httpx.Response(400, json={"status": "ALREADY_COMPLETED"})],
            ("GET", "/status"): [httpx.Response(200, json={"status": "COMPLETED"})],
            ("GET", "/requests/r1"): [fal_image()],
        }
    )
    result = fal.generate(ImageRequest("fal-ai/flux/schnell", "a fox"))  # type: ignore[attr-defined]
    assert (result.width, result.height) == (8, 8)


@pytest.mark.parametrize(
    ("status", "result", "kind", "billed_as"),
    [
        ({"status": "COMPLETED", "error": "Runner failed"}, None, ProviderFailureError, "failure"),
        (
            {"status": "COMPLETED"},
            fal_image(has_nsfw_concepts=[True]),
            SafetyRefusalError,
            "moderation",
        ),
        (
            {"status": "COMPLETED"},
            fal_image(images=[{"url": "data:image/png;base64,AAAA"}]),
            ProviderFailureError,
            "success",
        ),
    ],
)
def test_a_completed_fal_request_that_fails_names_its_job(status, result, kind, billed_as):
    answers = {
        ("POST", "/fal-ai/flux/schnell"): [SUBMITTED],
        ("GET", "/status"): [httpx.Response(200, json=status)],
    }
    if result is not None:
        answers[("GET", "/requests/r1")] = [result]
    fal = scripted_fal(answers)
    fal.timeout = 5.0  # type: ignore[attr-defined]
    with pytest.raises(kind) as caught:
        fal.generate(ImageRequest("fal-ai/flux/schnell", "a fox"))  # type: ignore[attr-defined]
    assert (caught.value.provider_job, outcome(caught.value)) == (JOB, billed_as)


def openai_answering(response: httpx.Response) -> object:
    return build_image_client(
        "openai_images",
        "openai",
        api_key="k",
        transport=httpx.MockTransport(lambda _request: response),
    )


@pytest.mark.parametrize(
    ("response", "job", "billed_as"),
    [
        (
            httpx.Response(200, json={"data": [{"b64_json": "bm90IGFuIGltYWdl"}]}),
            ANSWERED,
            "success",
        ),
        (httpx.Response(200, text="<html>502</html>"), ANSWERED, "success"),
        (httpx.Response(400, json={"error": {"message": "bad size"}}), None, None),
        (
            httpx.Response(400, json={"error": {"code": "moderation_blocked", "message": "no"}}),
            None,
            None,
        ),
    ],
)
def test_a_synchronous_image_error_after_a_200_is_generated_and_one_from_a_status_is_not(
    response, job, billed_as
):
    with pytest.raises(ProviderError) as caught:
        openai_answering(response).generate(ImageRequest("gpt-image-1", "a fox"))  # type: ignore[attr-defined]
    assert (caught.value.provider_job, outcome(caught.value)) == (job, billed_as)


def speech_answering(response: httpx.Response, cap: int = 1_000_000) -> SpeechClient:
    client = httpx.Client(
        transport=httpx.MockTransport(lambda _request: response),
        event_hooks={"response": [cap_answers(cap)]},
    )
    return SpeechClient("openai", "k", "https://api.openai.test/v1", client=client)


def test_a_speech_answer_cut_off_after_its_200_is_generated_and_a_refusal_is_not():
    said = SpeechRequest("We leave at dawn.", "gpt-4o-mini-tts", "onyx")
    chunks = httpx.ByteStream(b"RIFF" + bytes(200))
    too_long = speech_answering(httpx.Response(200, stream=chunks), cap=100)
    with pytest.raises(ProviderFailureError) as caught:
        too_long.speak(said)
    assert (caught.value.provider_job, outcome(caught.value)) == (ANSWERED, "success")
    refused = httpx.Response(400, content=json.dumps({"error": {"message": "bad voice"}}))
    with pytest.raises(RejectedInputError) as refusal:
        speech_answering(refused).speak(said)
    assert (refusal.value.provider_job, outcome(refusal.value)) == (None, None)


def _raising(exc: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return httpx.MockTransport(handler)


SENT_OR_NOT = [
    (httpx.ReadTimeout("no answer yet"), SENT, "cancel_running"),
    (httpx.RemoteProtocolError("server disconnected"), SENT, "cancel_running"),
    (httpx.ConnectError("refused"), None, None),
    (httpx.ConnectTimeout("no route"), None, None),
]


@pytest.mark.parametrize(("failure", "job", "billed_as"), SENT_OR_NOT)
def test_a_synchronous_image_request_left_unanswered_is_a_job_abandoned_while_running(
    failure, job, billed_as
):
    client = build_image_client("openai_images", "openai", api_key="k", transport=_raising(failure))
    with pytest.raises(ProviderError) as caught:
        client.generate(ImageRequest("gpt-image-1", "a fox"))
    error = caught.value
    assert (error.provider_job, outcome(error)) == (job, billed_as)
    assert error.was_running is (job is not None)


@pytest.mark.parametrize(("failure", "job", "billed_as"), SENT_OR_NOT)
def test_a_speech_request_left_unanswered_is_a_job_abandoned_while_running(failure, job, billed_as):
    client = SpeechClient(
        "openai",
        "k",
        "https://api.openai.test/v1",
        client=httpx.Client(transport=_raising(failure)),
    )
    with pytest.raises(ProviderError) as caught:
        client.speak(SpeechRequest("We leave at dawn.", "gpt-4o-mini-tts", "onyx"))
    assert (caught.value.provider_job, outcome(caught.value)) == (job, billed_as)


def test_a_status_check_failing_in_transit_is_repeated_not_the_end_of_a_paid_request():
    fal = scripted_fal(
        {
            ("POST", "/fal-ai/flux/schnell"): [SUBMITTED],
            ("GET", "/status"): [
                httpx.Response(502, text="<html>bad gateway</html>"),
                httpx.Response(200, text='{"status": "IN_PRO'),
                httpx.Response(200, json={"status": "COMPLETED"}),
            ],
            ("GET", "/requests/r1"): [fal_image()],
        }
    )
    fal.timeout = 5.0  # type: ignore[attr-defined]
    result = fal.generate(ImageRequest("fal-ai/flux/schnell", "a fox"))  # type: ignore[attr-defined]
    assert (result.width, result.height) == (8, 8)


def test_a_completed_request_whose_result_fails_in_transit_is_read_again():
    """The image fal made (and bills) is not given up for one 502 on the result's read."""
    fal = scripted_fal(
        {
            ("POST", "/fal-ai/flux/schnell"): [SUBMITTED],
            ("GET", "/status"): [httpx.Response(200, json={"status": "COMPLETED"})],
            ("GET", "/requests/r1"): [httpx.Response(503, text="upstream busy"), fal_image()],
        }
    )
    fal.timeout = 5.0  # type: ignore[attr-defined]
    result = fal.generate(ImageRequest("fal-ai/flux/schnell", "a fox"))  # type: ignore[attr-defined]
    assert (result.width, result.height) == (8, 8)


def test_a_speech_answer_refused_unread_for_its_size_is_generated_when_it_succeeded():
    """An answer declaring more bytes than the cap is not read; a 200 was still generated (and
    billed), an error answer was not."""
    said = SpeechRequest("We leave at dawn.", "gpt-4o-mini-tts", "onyx")
    huge = {"content-length": "5000"}
    with pytest.raises(ProviderError) as caught:
        speech_answering(httpx.Response(200, headers=huge, content=b"x" * 5000), cap=100).speak(
            said
        )
    assert (caught.value.provider_job, outcome(caught.value)) == (ANSWERED, "success")
    with pytest.raises(ProviderError) as refused:
        speech_answering(httpx.Response(400, headers=huge, content=b"x" * 5000), cap=100).speak(
            said
        )
    assert (refused.value.provider_job, outcome(refused.value)) == (None, None)
