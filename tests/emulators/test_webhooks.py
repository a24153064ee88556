"""Emulated providers deliver signed webhooks that ``adapters.webhooks`` verifies."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from adapters.base import GenerationRequest
from adapters.factory import build_adapter
from adapters.webhooks import fal_keys_from_jwks, verify_fal, verify_standard
from emulators import EmulatorHandle, Scenario, start_emulator
from foundation.settings import Settings
from tests import web

Delivery = tuple[dict[str, str], bytes]


class Receiver:
    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        received = self.deliveries

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append((dict(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int = 1) -> list[Delivery]:
        deadline = time.monotonic() + 10
        while len(self.deliveries) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.deliveries


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator(Scenario.model_validate({"seed": 5, "media": {"max_side": 160}})) as emu:
        yield emu


def submit(emulator: EmulatorHandle, provider: str, model: str, hook: str) -> str:
    adapter = build_adapter(
        provider, settings=Settings(_env_file=None), base_url=emulator.base_urls[provider]
    )
    request = GenerationRequest(
        "s1", "a kite", 4.0, 1280, 720, 24.0, f"{provider}/x", model, extra={"webhook_url": hook}
    )
    return adapter.submit(request)


# Veo left the Gemini API for Vertex AI, which takes no per-request webhook (google-genai 3.6.1
# refuses webhook_config in Vertex mode): Google is polled, so only Replicate is checked here.
@pytest.mark.parametrize(("provider", "model"), [("replicate", "google/veo-3.1-fast")])
def test_standard_webhooks(emulator: EmulatorHandle, receiver: Receiver, provider: str, model: str):
    from replicate.client import Client

    submit(emulator, provider, model, receiver.url)
    [(headers, body)] = receiver.wait()
    sdk = Client(api_token="key", base_url=emulator.base_urls["replicate"])
    secret = sdk.webhooks.default.secret().key
    assert secret == emulator.emulator.scenario.webhook_secret
    verify_standard(secret, headers, body)
    # The Replicate SDK's own verifier accepts the emulator's deliveries too.
    sdk.webhooks.validate(
        headers={k.lower(): v for k, v in headers.items()},
        body=body.decode(),
        secret=sdk.webhooks.default.secret(),
    )
    payload = json.loads(body)
    assert payload.get("status") == "succeeded" or payload["data"]["done"] is True
    with pytest.raises(Exception, match="signature"):
        verify_standard(emulator.emulator.scenario.webhook_secret, headers, body + b" ")


def test_fal_ed25519_webhook(emulator: EmulatorHandle, receiver: Receiver):
    job_id = submit(emulator, "fal", "fal-ai/veo3.1/fast", receiver.url)
    [(headers, body)] = receiver.wait()
    jwks = web.get(f"{emulator.base_url}/_emulator/fal-jwks.json").json()
    verify_fal(headers, body, fal_keys_from_jwks(jwks))
    payload = json.loads(body)
    assert payload["status"] == "OK"
    assert job_id.endswith(payload["request_id"])
    assert payload["payload"]["video"]["url"].startswith("http://127.0.0.1")


def test_a_fal_request_that_failed_is_delivered_with_its_error_body(receiver: Receiver):
    """docs.fal.ai/model-endpoints/webhooks: ERROR carries "Invalid status code: N" as ``error``
    and the error body as ``payload`` (the emulator sent a null payload and the body as text)."""
    refusing = {"faults": [{"kind": "safety_refusal", "rate": 1.0}]}
    scenario = {"seed": 5, "media": {"max_side": 160}, "providers": {"fal": refusing}}
    with start_emulator(Scenario.model_validate(scenario)) as emulator:
        submit(emulator, "fal", "fal-ai/veo3.1/fast", receiver.url)
        [(_, body)] = receiver.wait()
    payload = json.loads(body)
    assert (payload["status"], payload["error"]) == ("ERROR", "Invalid status code: 422")
    assert payload["payload"]["detail"][0]["type"] == "content_policy_violation"
