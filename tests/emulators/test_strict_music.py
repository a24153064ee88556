"""The music emulator refuses what ElevenLabs' ``POST /v1/music`` refuses, with the status and
error body the SDK reads (422: ``{"detail": [{"loc", "msg", "type"}]}``), and answers the
adapter's request (``adapters.music``) with a bed as long as asked, in the asked format (rules and
sources: ``emulators/routes/_music_rules.py``). The elevenlabs SDK is not installed in this
environment: ``sdk_compose`` sends what ``RawMusicClient.compose`` sends (elevenlabs-python
@54e58995: ``POST v1/music``, ``output_format`` in the query, unset fields left out, the key in
``xi-api-key``)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import av
import httpx
import pytest

from adapters.errors import RejectedInputError
from adapters.music import MusicClient, MusicRequest
from emulators import EmulatorHandle, Scenario, start_emulator
from tests import web


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator(Scenario()) as handle:
        yield handle


def sdk_compose(
    emulator: EmulatorHandle, body: dict[str, Any], key: str | None = "k", **query: str
) -> httpx.Response:
    headers = {"xi-api-key": key} if key else {}
    url = emulator.base_urls["elevenlabs"] + "/v1/music"
    return web.post(url, json=body, headers=headers, params=query, timeout=30)


GOOD = {"prompt": "slow synth pulse", "music_length_ms": 3000, "model_id": "music_v1"}


def test_a_pro_plan_format_is_refused_to_the_emulated_account(emulator):
    answer = sdk_compose(emulator, GOOD, output_format="pcm_44100")
    assert answer.status_code == 403
    assert answer.json()["detail"]["code"] == "subscription_required"


@pytest.mark.parametrize(
    ("change", "query", "loc"),
    [
        ({"music_length_ms": 2999}, {}, ["body", "music_length_ms"]),
        ({"music_length_ms": 600_001}, {}, ["body", "music_length_ms"]),
        ({"composition_plan": {"sections": []}}, {}, ["body"]),
        ({"seed": 7}, {}, ["body", "seed"]),
        ({"model_id": "music_v9"}, {}, ["body", "model_id"]),
        ({"prompt": "x" * 2001}, {}, ["body", "prompt"]),
        ({}, {"output_format": "wav_44100"}, ["query", "output_format"]),
    ],
)
def test_what_the_api_refuses_is_refused_as_a_validation_error(emulator, change, query, loc):
    answer = sdk_compose(emulator, GOOD | change, **query)
    assert answer.status_code == 422
    (detail,) = answer.json()["detail"]
    assert detail["loc"] == loc
    assert detail["msg"]
    assert detail["type"]


def test_a_plan_with_force_instrumental_or_neither_source_is_refused(emulator):
    plan = {"composition_plan": {"sections": []}, "force_instrumental": True}
    assert sdk_compose(emulator, plan).json()["detail"][0]["loc"] == ["body", "force_instrumental"]
    assert sdk_compose(emulator, {"music_length_ms": 3000}).status_code == 422


def test_a_key_is_needed(emulator):
    missing = sdk_compose(emulator, GOOD, key=None)
    assert missing.status_code == 401
    assert missing.json()["detail"]["status"] == "needs_authorization"


def test_the_sdks_request_gets_an_mp3_bed_as_long_as_asked(emulator):
    answer = sdk_compose(emulator, GOOD | {"force_instrumental": True})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "audio/mpeg"  # "auto": mp3_44100_128 for music_v1
    with av.open(io.BytesIO(answer.content), "r") as container:
        assert container.streams.audio[0].rate == 44_100
        assert float(container.duration or 0) / 1e6 == pytest.approx(3.0, abs=0.1)


def test_a_g711_bed_is_one_byte_a_sample(emulator):
    answer = sdk_compose(emulator, GOOD, output_format="ulaw_8000")
    assert answer.status_code == 200
    assert len(answer.content) == 3 * 8000  # 3 s of 8-bit mu-law, not 16-bit pcm


def test_the_adapter_composes_and_a_refusal_is_classified(emulator):
    client = MusicClient("elevenlabs", "k", emulator.base_urls["elevenlabs"])
    try:
        bed = client.compose(MusicRequest("slow synth pulse", "music_v1", 4.0))
        with pytest.raises(RejectedInputError, match="HTTP 422"):
            client.compose(MusicRequest("slow synth pulse", "music_v1", 2.0))
    finally:
        client.close()
    assert (bed.suffix, bed.note) == (".mp3", "elevenlabs")
    with av.open(io.BytesIO(bed.audio), "r") as container:
        assert float(container.duration or 0) / 1e6 == pytest.approx(4.0, abs=0.1)


def test_a_rate_limit_fault_has_elevenlabs_error_shape():
    """elevenlabs.io/docs/eleven-api/resources/errors: a 429's ``detail`` is an object whose
    ``code`` is ``rate_limit_exceeded`` (not a bare string)."""
    busy = {"kind": "rate_limit", "match": "busy", "retry_after_s": 3}
    scenario = Scenario.model_validate({"models": {"music_v1": {"faults": [busy]}}})
    with start_emulator(scenario) as handle:
        answer = sdk_compose(handle, GOOD | {"prompt": "busy synth pulse"})
    assert answer.status_code == 429
    detail = answer.json()["detail"]
    assert (detail["code"], detail["status"]) == ("rate_limit_exceeded", "rate_limit_exceeded")
    assert detail["message"]
