"""fal image apps through fal's queue, as ``adapters.fal`` does for video: ``POST {queue}/{app}``
-> ``request_id``; ``GET .../requests/{id}/status`` until ``COMPLETED``; ``GET .../requests/{id}``
-> ``{images: [{url, width, height, content_type}], seed, has_nsfw_concepts}``; then the image URL
(fal's CDN: no credential goes there, ``adapters._http.HttpClient``).

Inputs (fal-js 381105e1 ``libs/client/src/types/endpoints.ts``): FLUX schnell (``FluxSchnellInput``
= ``FluxDevInput``) takes ``image_size`` as a preset or ``{width, height}`` (each side 1..14142:
fal-ai/fal c6f0afaa ``toolkit/image/image.py`` ``ImageSize``), ``seed``, ``num_images``,
``output_format``; FLUX Kontext pro takes ``aspect_ratio`` and one ``image_url``
(``FluxKontextInput``), several ``image_urls`` on ``.../kontext/multi``
(``FluxKontextMultiInput``), none on ``.../kontext/text-to-image``. A flagged output comes back
as a black image of the same size with ``has_nsfw_concepts: [true]`` (fal-ai/fal c6f0afaa
``toolkit/image/safety_checker.py`` ``postprocess_images`` and ``toolkit/image/__init__.py``
``filter_by``): that is a safety refusal here, never a keyframe.
Every error past the submit names the request (``ProviderError.provider_job``) for the ledger's
billing rules; on the client's own deadline the request is cancelled at fal (``_abandon``).
Usage: ``images``, and ``megapixels`` per image rounded up to whole ones of 1024x1024 (fal bills
FLUX schnell "$0.003 per megapixels"; the rounding and the megapixel's size are UNCERTAIN, 3P).
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx

from adapters._http import HttpClient, about_job, looks_like_safety
from adapters.errors import (
    ProviderError,
    ProviderFailureError,
    ProviderTimeoutError,
    RejectedInputError,
    SafetyRefusalError,
    TransientError,
    answer_shape,
)
from adapters.fal import queue_root
from adapters.images import ImageRequest, ImageResult, Reference, measured, refuse_unsupported

BASE_URL = "https://queue.fal.run"
POLL_S = 0.5


MEGAPIXEL = 1024 * 1024


def billed_megapixels(width: int, height: int) -> int:
    """Whole megapixels of 1024x1024 pixels, rounded up (3P: "1024x768 = 1 MP"; UNCERTAIN)."""
    return max(1, -(-width * height // MEGAPIXEL))


def data_uri(ref: Reference) -> str:
    return f"data:{ref.mime};base64,{base64.b64encode(ref.data).decode()}"


def app_for(request: ImageRequest) -> str:
    """Kontext's endpoint by how many references there are; any other app as named."""
    if not request.model.startswith("fal-ai/flux-pro/kontext"):
        return request.model
    base = request.model.removesuffix("/multi").removesuffix("/text-to-image")
    if not request.references:
        return f"{base}/text-to-image"
    return base if len(request.references) == 1 else f"{base}/multi"


def fal_body(request: ImageRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": request.prompt, "num_images": 1, "output_format": "png"}
    dims = request.dims()
    if dims is not None:
        body["image_size"] = {"width": dims[0], "height": dims[1]}
    if request.aspect:
        body["aspect_ratio"] = request.aspect
    if request.seed is not None:
        body["seed"] = request.seed
    refs = request.references
    if len(refs) == 1:
        body["image_url"] = data_uri(refs[0])
    elif refs:
        body["image_urls"] = [data_uri(r) for r in refs]
    body.update(request.params)
    return body


class FalImageClient:
    provider = "fal"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 120.0,
    ) -> None:
        headers = {"Authorization": f"Key {api_key}"}
        self.timeout = timeout
        self._http = HttpClient(
            self.provider, base_url or BASE_URL, headers, timeout=30.0, transport=transport
        )

    def submit(self, request: ImageRequest) -> str:
        """Queue the request; its queue path (``<owner>/<alias>/requests/<id>``) for ``poll``."""
        refuse_unsupported(request, self.provider, seed=True)
        app_id = app_for(request)
        data = self._http.json("POST", f"/{app_id}", json=fal_body(request))
        request_id = data.get("request_id")
        if not request_id:
            raise ProviderFailureError("queue answer without request_id", self.provider, data)
        return f"{queue_root(app_id)}/requests/{request_id}"

    def generate(self, request: ImageRequest) -> ImageResult:
        """Submit and poll until the request completes. Every error past the submit carries the
        request as its ``provider_job`` (and whether a poll saw it ``IN_PROGRESS``): fal may bill
        it. A read that fails in transit (the status, the result, the image: a paid image is not
        given up for a 502) is repeated; on the client's own deadline the request is cancelled at
        fal (``_abandon``)."""
        job = self.submit(request)
        running = False
        try:
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                try:  # every read here (status, result, image) is safe to repeat until the deadline
                    with about_job(job):  # a request fal no longer knows is lost, not refused
                        status = self._http.json("GET", f"/{job}/status")
                    if status.get("status") == "COMPLETED":
                        return self._completed(job, status, request)
                except TransientError:
                    time.sleep(POLL_S)
                    continue
                running = running or status.get("status") != "IN_QUEUE"  # unknown: maybe running
                time.sleep(POLL_S)  # provider polling, not test synchronisation
            return self._abandon(job, request)
        except ProviderError as exc:
            exc.after_job(job, was_running=running)
            raise

    def _completed(self, job: str, status: dict[str, Any], request: ImageRequest) -> ImageResult:
        """A completed request's image: ``error`` on the status is the app's failure (a job that
        ran: fal's ``failure`` or, by its wording, ``moderation`` rule); an answer past the result
        fetch that cannot be used is a success fal bills."""
        if status.get("error"):
            error = str(status["error"])
            if looks_like_safety(error):
                raise SafetyRefusalError(error, self.provider, status)
            raise ProviderFailureError(error, self.provider, status)
        try:
            with about_job(job):
                result = self._http.json("GET", f"/{job}")
        except RejectedInputError as exc:
            if "content_policy_violation" in str(exc.raw):
                raise SafetyRefusalError(str(exc), self.provider, exc.raw) from exc
            raise
        try:
            with answer_shape(self.provider, result):
                return self._image(result, request)
        except ProviderError as exc:
            exc.generated()
            raise

    def _abandon(self, job: str, request: ImageRequest) -> ImageResult:
        """The deadline passed: cancel the request at fal and raise the timeout as ``cancelled``.
        fal's queue cancel (fal.ai/docs/inference-api/queue/cancel, read 2026-12-05): ``PUT
        .../requests/{id}/cancel`` removes a queued request and signals a running one's runner
        (the app decides whether it stops); ``ALREADY_COMPLETED`` (400) when it finished, and then
        its image is taken after all. A cancel fal did not take leaves it running."""
        error = ProviderTimeoutError(f"{job} did not finish in {self.timeout:g}s", self.provider)
        error.billing_hint = "cancelled"
        try:
            self._http.call("PUT", f"/{job}/cancel")
        except RejectedInputError:  # ALREADY_COMPLETED: it finished meanwhile
            status = self._final_status(job)
            if status is not None:
                return self._completed(job, status, request)
            raise error.after_job(job, was_running=True) from None
        except ProviderError:  # the cancel did not reach fal: the request goes on
            raise error.after_job(job, was_running=True) from None
        raise error

    def _final_status(self, job: str) -> dict[str, Any] | None:
        """The status of a request fal would not cancel, when it says COMPLETED (else None)."""
        try:
            status = self._http.json("GET", f"/{job}/status")
        except ProviderError:
            return None
        return status if status.get("status") == "COMPLETED" else None

    def _image(self, result: dict[str, Any], request: ImageRequest) -> ImageResult:
        images = result.get("images") or []
        first = images[0] if images and isinstance(images[0], dict) else {}
        if any(result.get("has_nsfw_concepts") or []):
            raise SafetyRefusalError(
                "fal's safety checker flagged the image", self.provider, result
            )
        url = first.get("url")
        if not url:
            raise ProviderFailureError("result without images[0].url", self.provider, result)
        if str(url).startswith("data:"):  # ``sync_mode``: the image inline as a data URI
            data = base64.b64decode(str(url).partition(",")[2])
        else:
            data = self._http.call("GET", str(url)).content
        width, height, mime = measured(data, self.provider, result)
        megapixels = sum(
            billed_megapixels(int(i.get("width") or width), int(i.get("height") or height))
            for i in images
        )
        usage = {"images": float(len(images)), "megapixels": float(megapixels)}
        seed = result.get("seed") if isinstance(result.get("seed"), int) else None
        return ImageResult(
            data, mime, width, height, usage, self.provider, request.model, seed, result
        )

    def close(self) -> None:
        self._http.close()
