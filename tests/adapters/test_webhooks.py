"""Webhook signatures: Standard Webhooks HMAC and fal ED25519."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.webhooks import (
    WebhookVerificationError,
    fal_headers,
    fal_keys_from_jwks,
    jwks_for,
    sign_standard,
    standard_headers,
    verify_fal,
    verify_standard,
)

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BODY = b'{"id":"p1","status":"succeeded"}'


class TestStandardWebhooks:
    def test_round_trip(self):
        verify_standard(SECRET, standard_headers(SECRET, BODY), BODY)

    def test_known_vector(self):
        # Standard Webhooks reference vector (svix): same secret, id, timestamp and payload.
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        payload = b'{"test": 2432232314}'
        signature = sign_standard(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, payload)
        assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

    def test_rotated_keys_any_match(self):
        headers = standard_headers(SECRET, BODY)
        headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
        verify_standard(SECRET, headers, BODY)

    @pytest.mark.parametrize("change", ["body", "secret", "old", "missing"])
    def test_rejections(self, change: str):
        stamp = int(time.time()) - (1000 if change == "old" else 0)
        headers = standard_headers(SECRET, BODY, timestamp=stamp)
        body, secret = BODY, SECRET
        if change == "body":
            body = BODY + b" "
        if change == "secret":
            secret = "whsec_" + base64.b64encode(b"another-secret-another-secret!!").decode()
        if change == "missing":
            del headers["webhook-signature"]
        with pytest.raises(WebhookVerificationError):
            verify_standard(secret, headers, body)


class TestFal:
    def test_round_trip_through_jwks(self):
        key = Ed25519PrivateKey.generate()
        keys = fal_keys_from_jwks(jwks_for(key))
        verify_fal(fal_headers(key, "req-1", "user-1", BODY), BODY, keys)

    def test_wrong_key_tampered_body_and_replay(self):
        key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        headers = fal_headers(key, "req-1", "user-1", BODY)
        with pytest.raises(WebhookVerificationError):
            verify_fal(headers, BODY, fal_keys_from_jwks(jwks_for(other)))
        with pytest.raises(WebhookVerificationError):
            verify_fal(headers, BODY + b"x", [key.public_key()])
        old = fal_headers(key, "req-1", "user-1", BODY, timestamp=int(time.time()) - 3600)
        with pytest.raises(WebhookVerificationError):
            verify_fal(old, BODY, [key.public_key()])


def test_signatures_match_the_openai_sdk_verifier():
    from openai import OpenAI

    client = OpenAI(api_key="k", base_url="http://127.0.0.1:9/v1")
    client.webhooks.verify_signature(BODY, standard_headers(SECRET, BODY), secret=SECRET)
