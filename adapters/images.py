"""Image models: one ``ImageRequest``, one ``ImageClient.generate`` per wire protocol, one result.

The keyframe and character-sheet stages route an image model (``router.route_image_stage``), ask
the registry what to request of it (``registry.image_target``: an exact ``size`` or an ``aspect``),
shape the reference images to its inline limit (``prepare_references``) and call
``adapters.image_clients.build_image_client(api, ...).generate(request)``. Every client returns the image's bytes (PNG or
JPEG), its measured size, and the usage the model's price meters on (``images``, ``megapixels``,
``input_tokens``, ``image_input_tokens``, ``output_tokens``) for ``UsagePricing.cost``.

APIs (``ImageCaps.api``): ``openai_images`` (``POST /v1/images/generations``, or
``/v1/images/edits`` with ``image[]`` parts when there are references), ``fal_queue`` (fal's queue:
submit, status, result, then the image URL), ``gemini_image`` (``generateContent`` with
``inline_data`` references and ``imageConfig.aspectRatio``) and ``local`` (drawn here). Imagen's
``:predict`` (``imagen_predict``) left the Gemini API on 2026-08-17 and has no client.

Failures are the adapters' taxonomy (``adapters.errors``): 429 ``RateLimitedError`` with the
provider's retry hint, a refused prompt or image ``SafetyRefusalError``, other 4xx
``RejectedInputError`` (401/403 included: a key problem is not retried), 5xx ``TransientError``,
an answer without a usable image ``ProviderFailureError``. Clients never retry.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from adapters.errors import ProviderFailureError, RejectedInputError
from adapters.image_port import ImagePort, reference
from media.files import EMPTY
from media.images import decode_problem, sniff_image

MB = 1024 * 1024
REFERENCE_MAX_SIDE = 2048
"""shotline's own bound on a reference's long side: every API here downsamples larger inputs
itself, and a larger one only costs upload time (and input tokens on token-priced models)."""
# Inline limits per API, for ``prepare_references``:
# - openai_images: each ``image[]`` "less than 50MB" (openai-python 3.3.1 image_edit_params.py)
# - fal_queue: a data URI of at most 10 MB (fal-ai/fal c6f0afaa toolkit/types.py MAX_DATA_URI)
# - gemini_image: 20 MB for the whole inline request (ai.google.dev image-understanding guide, as
#   remembered: UNCERTAIN), shared between the references
REQUEST_BUDGET = {"openai_images": None, "fal_queue": None, "gemini_image": 20 * MB}
PER_IMAGE_URI = {"openai_images": 50 * MB * 4 // 3, "fal_queue": 10 * MB, "gemini_image": None}


@dataclass(frozen=True)
class Reference:
    """A conditioning image (a character's reference sheet, a style frame) as sent."""

    data: bytes
    mime: str


@dataclass(frozen=True)
class ImageRequest:
    """``model``: the provider's model id; ``size`` (``WIDTHxHEIGHT``) or ``aspect``
    (``16:9``) from ``registry.image_target``; ``params``: provider extras sent as they are
    (``quality`` for OpenAI, ``safety_tolerance`` for Kontext...)."""

    model: str
    prompt: str
    size: str | None = None
    aspect: str | None = None
    references: tuple[Reference, ...] = ()
    negative_prompt: str | None = None
    seed: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def dims(self) -> tuple[int, int] | None:
        if not self.size:
            return None
        w, _, h = self.size.partition("x")
        return int(w), int(h)


@dataclass(frozen=True)
class ImageResult:
    """The image as the provider returned it (``data`` in ``mime``), its measured ``width`` x
    ``height``, and ``usage`` (meter -> units) for the model's usage price."""

    data: bytes
    mime: str
    width: int
    height: int
    usage: Mapping[str, float]
    provider: str
    model: str
    seed: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    def billed(self, meters: Collection[str]) -> dict[str, float]:
        """The usage on ``meters`` (the model's ``UsagePricing.meters``): a client measures every
        meter its API reports, a price bills some of them."""
        return {meter: units for meter, units in self.usage.items() if meter in meters}

    def save(self, path: Path) -> Path:
        """Write the image with the extension of its type (``.png`` or ``.jpg``)."""
        target = path.with_suffix(".png" if self.mime == "image/png" else ".jpg")
        target.write_bytes(self.data)
        return target


class ImageClient(Protocol):
    """One image API. ``generate`` sends one request and returns one image; it raises the
    adapters' error taxonomy and never retries (the stage's fallback chain does)."""

    provider: str

    def generate(self, request: ImageRequest) -> ImageResult: ...


def refuse_unsupported(request: ImageRequest, provider: str, *, seed: bool) -> None:
    """Refuse, before any request, what the API would silently drop: no image API here takes a
    negative prompt (fold it into the prompt), and only some take a seed."""
    if request.negative_prompt:
        raise RejectedInputError(f"{request.model} takes no negative prompt", provider)
    if request.seed is not None and not seed:
        raise RejectedInputError(f"{request.model} takes no seed", provider)


def measured(data: bytes, provider: str, raw: Any = None) -> tuple[int, int, str]:
    """``(width, height, mime)`` of encoded image bytes; ``ProviderFailureError`` when they are
    empty, not a PNG, JPEG or WebP image (a provider answered a truncated or other file: OpenCV
    would decode many more formats, unmeasured) or declare too many pixels."""
    if not data:
        raise ProviderFailureError(f"the answer's image {EMPTY}", provider, raw)
    mime = sniff_image(data)
    if mime is None:
        raise ProviderFailureError("the answer is not a PNG, JPEG or WebP image", provider, raw)
    if (undecodable := decode_problem(data)) is not None:
        raise ProviderFailureError(f"the answer's image {undecodable}", provider, raw)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise ProviderFailureError("the answer's image is not a readable image", provider, raw)
    return int(decoded.shape[1]), int(decoded.shape[0]), mime


def prepare_references(paths: Sequence[Path], api: str, limit: int) -> tuple[Reference, ...]:
    """The images at ``paths`` as ``api`` takes them inline: at most ``limit`` (the model's
    ``reference_images``: more is refused before any spend), each within the API's per-image and
    per-request limits (re-encoded when over, ``adapters.image_port.reference``)."""
    if len(paths) > limit:
        raise RejectedInputError(
            f"{len(paths)} reference images, the model takes at most {limit}", api
        )
    budget = REQUEST_BUDGET.get(api)
    per_uri = PER_IMAGE_URI.get(api)
    if budget is not None and paths:
        share = budget * 4 // 3 // len(paths)
        per_uri = share if per_uri is None else min(per_uri, share)
    port = ImagePort(api, max_uri_chars=per_uri, max_side=REFERENCE_MAX_SIDE)
    out: list[Reference] = []
    for path in paths:
        frame = reference(Path(path), port)
        out.append(Reference(frame.data, frame.mime))
    return tuple(out)
