"""Verification of incoming provider webhooks (polling stays the fallback).

- Standard Webhooks (Replicate, Gemini, OpenAI-shaped gateways): ``webhook-id``,
  ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with
  the base64 key after ``whsec_``; several space-separated signatures may be sent (key rotation).
- fal: ``X-Fal-Webhook-Request-Id``, ``-User-Id``, ``-Timestamp``, ``-Signature`` (hex ED25519 over
  ``request_id\\nuser_id\\ntimestamp\\nsha256hex(body)``), keys from fal's JWKS.

Both reject timestamps more than ``tolerance_s`` (300 s) away from now, against replays.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from foundation.errors import ShotlineError

TOLERANCE_S = 300


class WebhookVerificationError(ShotlineError):
    """The webhook is unsigned, badly signed, or too old: never act on it."""

    status_code = 401


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _check_time(raw: str | None, tolerance_s: float, now: float | None) -> int:
    try:
        stamp = int(raw or "")
    except ValueError as exc:
        raise WebhookVerificationError("missing or malformed webhook timestamp") from exc
    if abs((time.time() if now is None else now) - stamp) > tolerance_s:
        raise WebhookVerificationError("webhook timestamp outside the tolerance window")
    return stamp


def _secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign_standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) for one delivery."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode()}"


def standard_headers(
    secret: str, body: bytes, msg_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """Headers of a Standard Webhooks delivery (used by the emulator and tests)."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard(secret, msg_id, timestamp, body),
    }


def verify_standard(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: float = TOLERANCE_S,
    now: float | None = None,
) -> None:
    """Raise ``WebhookVerificationError`` unless one ``v1`` signature matches."""
    lowered = _lower(headers)
    msg_id = lowered.get("webhook-id")
    if not msg_id:
        raise WebhookVerificationError("missing webhook-id")
    stamp = _check_time(lowered.get("webhook-timestamp"), tolerance_s, now)
    expected = sign_standard(secret, msg_id, stamp, body).encode()
    for candidate in lowered.get("webhook-signature", "").split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected):
            return
    raise WebhookVerificationError("no matching webhook signature")


def fal_message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    return "\n".join((request_id, user_id, timestamp, hashlib.sha256(body).hexdigest())).encode()


def fal_keys_from_jwks(jwks: Mapping[str, Any]) -> list[Ed25519PublicKey]:
    """ED25519 public keys (``kty: OKP, crv: Ed25519``) from a JWKS document."""
    keys = []
    for item in jwks.get("keys", []):
        if item.get("kty") == "OKP" and item.get("crv") == "Ed25519" and item.get("x"):
            raw = base64.urlsafe_b64decode(item["x"] + "=" * (-len(item["x"]) % 4))
            keys.append(Ed25519PublicKey.from_public_bytes(raw))
    return keys


def jwks_for(key: Ed25519PrivateKey) -> dict[str, Any]:
    """A JWKS document publishing ``key``'s public half (emulator and tests)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "emulator"}]}


def fal_headers(
    key: Ed25519PrivateKey, request_id: str, user_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = key.sign(fal_message(request_id, user_id, stamp, body)).hex()
    return {
        "X-Fal-Webhook-Request-Id": request_id,
        "X-Fal-Webhook-User-Id": user_id,
        "X-Fal-Webhook-Timestamp": stamp,
        "X-Fal-Webhook-Signature": signature,
    }


def verify_fal(
    headers: Mapping[str, str],
    body: bytes,
    public_keys: Iterable[Ed25519PublicKey],
    *,
    tolerance_s: float = TOLERANCE_S,
    now: float | None = None,
) -> None:
    """Raise ``WebhookVerificationError`` unless one of ``public_keys`` signed this delivery."""
    lowered = _lower(headers)
    request_id = lowered.get("x-fal-webhook-request-id", "")
    user_id = lowered.get("x-fal-webhook-user-id", "")
    raw_stamp = lowered.get("x-fal-webhook-timestamp", "")
    if not request_id or not user_id:
        raise WebhookVerificationError("missing fal webhook headers")
    _check_time(raw_stamp, tolerance_s, now)
    try:
        signature = bytes.fromhex(lowered.get("x-fal-webhook-signature", ""))
    except ValueError as exc:
        raise WebhookVerificationError("fal signature is not hex") from exc
    message = fal_message(request_id, user_id, raw_stamp, body)
    for key in public_keys:
        try:
            key.verify(signature, message)
        except InvalidSignature:
            continue
        return
    raise WebhookVerificationError("no fal key verifies this webhook")
