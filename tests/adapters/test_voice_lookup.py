"""ElevenLabs' free voice lookup (``adapters.voice_lookup``): a known voice, a missing one in
each shape the provider has answered it, and an answer that says nothing about the voice raised
as the taxonomy's error."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from adapters.errors import RateLimitedError, RejectedInputError, TransientError
from adapters.voice_lookup import lookup_elevenlabs_voice
from emulators import EmulatorHandle, Scenario, start_emulator

ADAM = "pNInz6obpgDQGcFmaJgB"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator(Scenario()) as handle:
        yield handle


def test_the_emulated_account_knows_its_premade_voices_only(emulator):
    base = emulator.base_urls["elevenlabs"]
    assert lookup_elevenlabs_voice(ADAM, "k", base).known
    missing = lookup_elevenlabs_voice("abc123", "k", base)
    assert not missing.known
    assert missing.message == "A voice for the voice_id abc123 was not found."
    with pytest.raises(RejectedInputError):
        lookup_elevenlabs_voice(ADAM, "", base)  # no key: 401, nothing said about the voice


def answering(status: int, body: object, seen: list[httpx.Request] | None = None):
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "voice_not_found"), (404, "voice_not_found"), (400, "voice_does_not_exist")],
)
def test_each_shape_of_a_missing_voice_is_missing(status, code):
    seen: list[httpx.Request] = []
    body = {"detail": {"status": code, "message": "A voice with voice_id x does not exist."}}
    answer = lookup_elevenlabs_voice("x", "key", transport=answering(status, body, seen))
    assert not answer.known
    assert answer.message == "A voice with voice_id x does not exist."
    (request,) = seen
    assert (request.method, str(request.url)) == ("GET", "https://api.elevenlabs.io/v1/voices/x")
    assert request.headers["xi-api-key"] == "key"


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (404, {"detail": "Not Found"}, RejectedInputError),  # a wrong path, not a voice
        (429, {"detail": {"status": "too_many_concurrent_requests"}}, RateLimitedError),
        (503, {"detail": {"status": "internal_server_error"}}, TransientError),
    ],
)
def test_an_answer_about_something_else_raises(status, body, error):
    with pytest.raises(error):
        lookup_elevenlabs_voice("x", "key", transport=answering(status, body))
