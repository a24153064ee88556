"""The speech emulators refuse what OpenAI's ``POST /v1/audio/speech`` and ElevenLabs'
``POST /v1/text-to-speech/{voice_id}`` refuse, with the provider's status and error body, and the
adapter's requests (``adapters.speech``) come back as speech (rules and sources:
``emulators/routes/_speech_rules.py``)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import av
import httpx
import openai
import pytest

from adapters.errors import RejectedInputError, TransientError
from adapters.speech import SpeechClient, SpeechRequest
from adapters.voices import choose_voice
from emulators import EmulatorHandle, Scenario, start_emulator
from registry import load_registry
from tests import web

ADAM = "pNInz6obpgDQGcFmaJgB"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator(Scenario()) as handle:
        yield handle


def speech(emulator: EmulatorHandle, body: dict[str, Any], key: str | None = "k") -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = emulator.base_urls["openai"] + "/v1/audio/speech"
    return web.post(url, json=body, headers=headers, timeout=30)


GOOD = {"model": "gpt-4o-mini-tts", "input": "We leave at dawn.", "voice": "onyx"}


@pytest.mark.parametrize(
    ("change", "param", "code"),
    [
        ({"input": "x" * 4097}, "input", "string_above_max_length"),
        ({"voice": "rachel"}, "voice", "invalid_value"),
        ({"model": "tts-1", "voice": "verse"}, "voice", "invalid_value"),
        ({"response_format": "ogg"}, "response_format", "invalid_value"),
        ({"speed": 4.5}, "speed", "invalid_value"),
        ({"speed": 0.2}, "speed", "invalid_value"),
        ({"model": "tts-1", "instructions": "calm"}, "instructions", None),
        ({"model": "tts-2"}, "model", "invalid_value"),
        ({"input": ""}, "input", "missing_required_parameter"),
        ({"model": "tts-1", "voice": "marin"}, "voice", "invalid_value"),
        ({"stream_format": "chunks"}, "stream_format", "invalid_value"),
        ({"model": "tts-1", "stream_format": "sse"}, "stream_format", None),
    ],
)
def test_openai_refuses_what_the_api_refuses(emulator, change, param, code):
    answer = speech(emulator, GOOD | change)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)


@pytest.mark.parametrize(
    "change",
    [
        {"voice": "marin"},
        {"voice": "cedar"},
        {"model": "gpt-4o-mini-tts-2025-12-15", "voice": "ballad"},
        {"stream_format": "audio"},
    ],
)
def test_openai_serves_what_sdk_3_60_lists(emulator, change):
    """openai 3.60.0 ``speech_create_params.py``: marin and cedar are built-in voices and
    gpt-4o-mini-tts-2025-12-15 a model; ``stream_format: audio`` is the plain answer."""
    answer = speech(emulator, GOOD | change)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "audio/mpeg"


@pytest.mark.parametrize(("day", "status"), [("2027-01-05", 200), ("2027-01-06", 404)])
def test_openai_speech_models_are_gone_from_their_shutdown(emulator, monkeypatch, day, status):
    """openai 3.60.0 ``speech_model.py``: every speech model's shutdown is 2027-01-06."""
    monkeypatch.setenv("SHOTLINE_TODAY", day)
    answer = speech(emulator, GOOD)
    assert answer.status_code == status
    if status == 404:
        assert answer.json()["error"]["code"] == "model_not_found"


def test_openai_needs_a_bearer_key(emulator):
    assert speech(emulator, GOOD, key=None).status_code == 401


def test_the_openai_sdk_gets_speech_of_the_lines_length(emulator):
    client = openai.OpenAI(api_key="k", base_url=emulator.base_urls["openai"] + "/v1")
    audio = client.audio.speech.create(
        model="gpt-4o-mini-tts", voice="onyx", input="one two three four five", response_format="wav",
        instructions="Speak in a calm, low voice.", speed=2.0,
    )  # fmt: skip
    with av.open(io.BytesIO(audio.content), "r") as container:
        stream = container.streams.audio[0]
        assert stream.rate == 24_000
        seconds = float(container.duration or 0) / 1e6
    assert seconds == pytest.approx(5 / 2.5 / 2.0, abs=0.05)


def eleven(
    emulator: EmulatorHandle, body: dict[str, Any], voice: str = ADAM, key: str = "k", **query: str
) -> httpx.Response:
    url = emulator.base_urls["elevenlabs"] + f"/v1/text-to-speech/{voice}"
    headers = {"xi-api-key": key} if key else {}
    return web.post(url, json=body, params=query, headers=headers, timeout=30)


def test_elevenlabs_refusals_carry_its_status_and_body(emulator):
    body = {"text": "We leave at dawn.", "model_id": "eleven_flash_v2_5"}
    no_key = eleven(emulator, body, key="")
    assert no_key.status_code == 401
    assert no_key.json()["detail"]["status"] == "needs_authorization"
    bad_format = eleven(emulator, body, output_format="flac_44100")
    assert bad_format.status_code == 422
    assert bad_format.json()["detail"][0]["loc"] == ["query", "output_format"]
    unknown = eleven(emulator, body | {"model_id": "eleven_v9"})
    assert (unknown.status_code, unknown.json()["detail"]["status"]) == (400, "model_not_found")
    long = eleven(emulator, {"text": "x" * 10_001, "model_id": "eleven_multilingual_v2"})
    assert (long.status_code, long.json()["detail"]["status"]) == (
        400,
        "max_character_limit_exceeded",
    )
    missing = eleven(emulator, body, voice="nobody")
    assert (missing.status_code, missing.json()["detail"]["status"]) == (404, "voice_not_found")


@pytest.mark.parametrize("output_format", ["pcm_44100", "wav_44100"])
def test_elevenlabs_44k_pcm_is_refused_below_the_pro_plan(emulator, output_format):
    """The emulated account is below Pro, as most are: shotline asked every line as pcm_44100,
    which such an account refuses (403), so every ElevenLabs voice failed there."""
    answer = eleven(emulator, {"text": "We leave at dawn."}, output_format=output_format)
    assert answer.status_code == 403
    detail = answer.json()["detail"]
    assert (detail["code"], detail["status"]) == (
        "subscription_required",
        "output_format_not_allowed",
    )
    assert detail["message"] == (
        f"Output format '{output_format}' is only available on the Pro tier and above."
    )
    assert (
        eleven(emulator, {"text": "We leave at dawn."}, output_format="pcm_24000").status_code
        == 200
    )


@pytest.mark.parametrize(
    ("output_format", "container", "codec", "rate"),
    [
        ("wav_24000", "wav", "pcm_s16le", 24_000),  # wav_* since SDK 2.59.0
        ("mp3_24000_48", "mp3", "mp3", 24_000),
        ("opus_48000_64", "ogg", "opus", 48_000),
    ],
)
def test_elevenlabs_answers_each_format_in_its_container(
    emulator, output_format, container, codec, rate
):
    answer = eleven(emulator, {"text": "We leave at dawn."}, output_format=output_format)
    assert answer.status_code == 200
    with av.open(io.BytesIO(answer.content), "r") as opened:
        stream = opened.streams.audio[0]
        assert (opened.format.name, stream.rate) == (container, rate)
        assert stream.codec_context.name.startswith(codec)  # the mp3 decoder is "mp3float"
        assert float(opened.duration or 0) / 1e6 == pytest.approx(4 / 2.5, abs=0.1)


@pytest.mark.parametrize("output_format", ["ulaw_8000", "alaw_8000", "pcm_32000"])
def test_elevenlabs_raw_formats_are_one_sample_per_byte_or_two(emulator, output_format):
    answer = eleven(emulator, {"text": "We leave at dawn."}, output_format=output_format)
    assert answer.status_code == 200
    rate = int(output_format.split("_")[1])
    width = 2 if output_format.startswith("pcm") else 1  # G.711: 8 bits a sample
    assert len(answer.content) / width / rate == pytest.approx(4 / 2.5, abs=0.01)


@pytest.mark.parametrize(
    ("provider", "path", "model", "voice", "instructions"),
    [
        ("openai", "/v1", "gpt-4o-mini-tts", "onyx", "Speak in a calm, low voice."),
        ("openai", "/v1", "tts-1", "onyx", None),
        ("elevenlabs", "", "eleven_flash_v2_5", ADAM, None),
    ],
)
def test_the_adapter_gets_a_wav_of_the_line(emulator, provider, path, model, voice, instructions):
    client = SpeechClient(provider, "k", emulator.base_urls[provider] + path)
    spoken = client.speak(SpeechRequest("We leave at dawn.", model, voice, instructions))
    with av.open(io.BytesIO(spoken.wav), "r") as container:
        seconds = float(container.duration or 0) / 1e6
    assert seconds == pytest.approx(4 / 2.5, abs=0.05)


def test_a_refusal_reaches_the_adapter_as_rejected_input(emulator):
    client = SpeechClient("openai", "k", emulator.base_urls["openai"] + "/v1")
    with pytest.raises(RejectedInputError, match="Instructions are not supported"):
        client.speak(SpeechRequest("Hi.", "tts-1", "onyx", "calm"))


def test_a_named_newer_voice_reaches_the_emulator(emulator):
    """The registry's gpt-4o-mini-tts voices (openai 3.60.0) include marin, offered by name."""
    voices = load_registry().get("openai/gpt-4o-mini-tts").caps["voices"]
    chosen = choose_voice("openai", voices, "openai:marin", instructions=True)
    assert chosen is not None
    assert speech(emulator, GOOD | {"voice": chosen.voice}).status_code == 200


def test_a_scenarios_fault_reaches_elevenlabs_speech_as_it_reaches_music():
    """Before, ``/v1/text-to-speech`` ignored the scenario's HTTP faults (``/v1/music`` applied
    them): a failing ElevenLabs voice could not be emulated. A fault on one model leaves the
    others speaking, and the failure reaches the adapter classified."""
    down = {"kind": "server_error", "status": 503, "rate": 1.0}
    scenario = Scenario.model_validate({"models": {"eleven_flash_v2_5": {"faults": [down]}}})
    body = {"text": "We leave at dawn.", "model_id": "eleven_flash_v2_5"}
    with start_emulator(scenario) as handle:
        failed = eleven(handle, body)
        spoken = eleven(handle, body | {"model_id": "eleven_multilingual_v2"})
        client = SpeechClient("elevenlabs", "k", handle.base_urls["elevenlabs"])
        with pytest.raises(TransientError):
            client.speak(SpeechRequest("We leave at dawn.", "eleven_flash_v2_5", ADAM))
        stats = handle.stats()
    assert failed.status_code == 503
    assert failed.json()["detail"]["status"] == "internal_server_error"
    assert spoken.status_code == 200
    assert len(spoken.content) > 1000
    assert stats["faults"] == {"eleven_flash_v2_5:server_error": 2}


def test_elevenlabs_voice_lookup_answers_like_the_provider(emulator):
    """``GET /v1/voices/{voice_id}`` (elevenlabs-python 2.59.0 ``voices/raw_client.py``): a
    premade voice's metadata, an unknown id 400 ``voice_not_found`` (elevenlabs-python#454), and
    no key 401, like every ElevenLabs route."""
    url = emulator.base_urls["elevenlabs"] + "/v1/voices/"
    known = web.get(url + ADAM, headers={"xi-api-key": "k"}, timeout=30)
    assert known.status_code == 200
    assert (known.json()["voice_id"], known.json()["name"]) == (ADAM, "Adam")
    unknown = web.get(url + "abc123", headers={"xi-api-key": "k"}, timeout=30)
    assert unknown.status_code == 400
    assert unknown.json() == {
        "detail": {
            "status": "voice_not_found",
            "message": "A voice for the voice_id abc123 was not found.",
        }
    }
    assert web.get(url + ADAM, timeout=30).status_code == 401


def test_the_emulated_account_has_every_voice_the_adapter_chooses_from():
    """Text-to-speech and the voice lookup answer from one list of the account's voices; a
    premade voice the adapter may pick that the emulator lacked would fail every emulated line."""
    from adapters.voices import ELEVENLABS_TRAITS
    from emulators.routes._speech_rules import ELEVENLABS_VOICE_NAMES

    assert set(ELEVENLABS_VOICE_NAMES) == set(ELEVENLABS_TRAITS)
