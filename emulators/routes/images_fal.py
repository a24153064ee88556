"""fal image apps on the emulated queue: FLUX schnell and FLUX Kontext pro (one reference, several
on ``/multi``, none on ``/text-to-image``). Registered before ``emulators.routes.fal``, whose
catch-all routes serve the video apps.

As on fal (see ``emulators.routes.fal``): the gateway refuses a bad ``Authorization`` (401) at
submit; the app's runner validates the input after the queue took it, so a bad input completes
and its result answers 422 with pydantic ``detail`` items. A request is ``IN_QUEUE`` for the
profile's ``latency.queued_fraction`` of its latency, then ``IN_PROGRESS``; a scenario
``job_failure`` completes it with ``error`` (as ``emulators.routes.fal``); ``PUT .../cancel``
cancels it (``cancel``). Sources (checked 2026-12-05):
- [FALJS] fal-js 381105e1 ``endpoints.ts``: ``FluxSchnellInput`` (= ``FluxDevInput``: prompt,
  image_size preset or ``ImageSize``, num_inference_steps, seed, num_images, output_format
  jpeg|png, enable_safety_checker, sync_mode, acceleration), ``FluxKontextInput`` (image_url
  required, aspect_ratio 21:9 16:9 4:3 3:2 1:1 2:3 3:4 9:16 9:21, safety_tolerance "1".."6",
  output_format, guidance_scale, num_images, seed), ``FluxKontextMultiInput`` (image_urls).
  Output: ``{images: [{url, width, height, content_type}], seed, has_nsfw_concepts, prompt}``.
- [TOOLKIT] fal-ai/fal c6f0afaa ``toolkit/image/image.py``: presets (square_hd 1024x1024, square
  512x512, portrait_4_3 768x1024, portrait_16_9 576x1024, landscape_4_3 1024x768,
  landscape_16_9 1024x576; default landscape_4_3) and ``ImageSize`` sides ``gt=0, le=14142``;
  ``toolkit/image/safety_checker.py`` + ``__init__.py filter_by``: a flagged image is replaced by
  a black one of the same size and ``has_nsfw_concepts`` is true (used for FLUX schnell).
- [LLMS] fal.ai/models/fal-ai/flux-1/schnell/llms.txt: num_inference_steps 1..12; num_images
  1..4 (3P skill table; UNCERTAIN for Kontext). Kontext's refusal shape for a flagged prompt is
  UNCERTAIN: answered here as a 422 ``content_policy_violation`` like the video apps.
Kontext's output pixels per aspect (~1 MP) are UNCERTAIN (``KONTEXT_SIZES``).
"""

from __future__ import annotations

import base64
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from adapters.images import Reference
from emulators.routes import _flow as flow
from emulators.routes._image_common import data_uri_reference, gate, picture, store
from emulators.routes.fal import auth_refusal
from emulators.routes.fal_apps import App, Field, validate
from emulators.wire import respond

PROVIDER = "fal"
router = APIRouter()
PRESETS = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
MAX_SIDE = 14142
KONTEXT_ASPECTS = ("21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21")
KONTEXT_SIZES = {  # as registry/models.yaml size_for_aspect (both UNCERTAIN)
    "16:9": (1392, 752),
    "9:16": (752, 1392),
    "1:1": (1024, 1024),
    "4:3": (1184, 880),
    "3:4": (880, 1184),
}
_COMMON = {
    "prompt": Field("str", required=True),
    "seed": Field("int"),
    "output_format": Field("enum", ("jpeg", "png")),
    "sync_mode": Field("bool"),
}
SCHNELL = App(
    _COMMON
    | {
        "enable_safety_checker": Field("bool"),
        "acceleration": Field("enum", ("none", "regular", "high")),
    }
)
_KONTEXT = _COMMON | {
    "aspect_ratio": Field("enum", KONTEXT_ASPECTS),
    "safety_tolerance": Field("enum", tuple(str(n) for n in range(1, 7))),
    "guidance_scale": Field("float"),
    "enhance_prompt": Field("bool"),
}
APPS = {
    "fal-ai/flux/schnell": SCHNELL,
    "fal-ai/flux-pro/kontext": App(_KONTEXT | {"image_url": Field("file", required=True)}),
    "fal-ai/flux-pro/kontext/multi": App(_KONTEXT),
    "fal-ai/flux-pro/kontext/text-to-image": App(_KONTEXT),
}
INT_BOUNDS = {"num_images": (1, 4), "num_inference_steps": (1, 12)}


def _bound(name: str, value: Any, low: int, high: int) -> dict[str, Any] | None:
    """pydantic v2's ``greater_than_equal`` / ``less_than_equal`` item ([ERRORS] in fal_apps)."""
    if not isinstance(value, int) or isinstance(value, bool):
        msg = "Input should be a valid integer"
        return {"type": "int_type", "loc": ["body", name], "msg": msg, "input": value}
    if value < low:
        msg = f"Input should be greater than or equal to {low}"
        return {
            "type": "greater_than_equal",
            "loc": ["body", name],
            "msg": msg,
            "input": value,
            "ctx": {"ge": low},
        }
    if value > high:
        msg = f"Input should be less than or equal to {high}"
        return {
            "type": "less_than_equal",
            "loc": ["body", name],
            "msg": msg,
            "input": value,
            "ctx": {"le": high},
        }
    return None


def _size(body: dict[str, Any], errors: list[dict[str, Any]]) -> tuple[int, int]:
    value = body.get("image_size", "landscape_4_3")
    if isinstance(value, str):
        if value in PRESETS:
            return PRESETS[value]
        msg = f"Input should be {', '.join(repr(p) for p in PRESETS)}"
        errors.append(
            {"type": "literal_error", "loc": ["body", "image_size"], "msg": msg, "input": value}
        )
        return PRESETS["landscape_4_3"]
    sides = []
    for side in ("width", "height"):
        got = value.get(side, 512) if isinstance(value, dict) else None
        if not isinstance(got, int) or not 0 < got <= MAX_SIDE:
            kind, msg = (
                ("greater_than", "Input should be greater than 0")
                if isinstance(got, int) and got <= 0
                else ("less_than_equal", f"Input should be less than or equal to {MAX_SIDE}")
            )
            errors.append(
                {"type": kind, "loc": ["body", "image_size", side], "msg": msg, "input": got}
            )
            got = 512
        sides.append(got)
    return sides[0], sides[1]


def kontext_size(aspect: str) -> tuple[int, int]:
    """About one megapixel at ``aspect`` (UNCERTAIN beyond ``KONTEXT_SIZES``)."""
    if aspect not in KONTEXT_ASPECTS:
        return 1024, 1024
    w, _, h = aspect.partition(":")
    ratio = int(w) / int(h)
    return KONTEXT_SIZES.get(aspect) or (round((1e6 * ratio) ** 0.5), round((1e6 / ratio) ** 0.5))


def check(
    app_id: str, body: dict[str, Any]
) -> tuple[list[dict[str, Any]], tuple[int, int], list[Reference]]:
    """The runner's 422 items, the output size, and the references sent."""
    errors = validate(APPS[app_id], body)
    for name, (low, high) in INT_BOUNDS.items():
        if name in body and (name != "num_inference_steps" or app_id == "fal-ai/flux/schnell"):
            problem = _bound(name, body[name], low, high)
            if problem:
                errors.append(problem)
    refs: list[Reference] = []
    if app_id == "fal-ai/flux/schnell":
        size = _size(body, errors)
    else:
        size = kontext_size(str(body.get("aspect_ratio", "1:1")))
        urls = (
            [body["image_url"]]
            if isinstance(body.get("image_url"), str)
            else body.get("image_urls") or []
        )
        if app_id.endswith("/multi") and not urls:
            errors.append(
                {
                    "type": "missing",
                    "loc": ["body", "image_urls"],
                    "msg": "Field required",
                    "input": body,
                }
            )
        refs = [r for r in (data_uri_reference(str(u)) for u in urls) if r is not None]
    return errors, size, refs


async def submit(app_id: str, request: Request) -> Response:
    refused = auth_refusal(request)
    if refused is not None:
        return refused
    try:
        raw, body = await flow.json_body(request)
    except flow.BadRequest as exc:
        detail = [{"type": "json_invalid", "loc": ["body"], "msg": str(exc), "input": None}]
        return JSONResponse({"detail": detail}, status_code=422)
    gated = await gate(request, PROVIDER, app_id, raw, str(body.get("prompt") or ""))
    if gated.response is not None:
        return gated.response
    images = store(request)
    request_id = images.next_id("img-")
    latency = flow.emulator(request).profile(PROVIDER, app_id).latency
    now = time.monotonic()
    images.requests[request_id] = {
        "app": app_id,
        "body": body,
        "refused": gated.refused,
        "failed": gated.outcome == "job_failure",
        "started_at": now + latency.seconds * latency.queued_fraction,
        "done_at": now + latency.seconds,
        "cancelled": False,
    }
    root = "/".join(app_id.split("/")[:2])
    base = f"{flow.root(request)}/fal/{root}/requests/{request_id}"
    answer = {
        "request_id": request_id,
        "response_url": base,
        "status_url": f"{base}/status",
        "cancel_url": f"{base}/cancel",
        "status": "IN_QUEUE",
        "queue_position": 0,
    }
    return respond(answer, gated.fault)


def _make_submit(app_id: str) -> Any:
    async def handler(request: Request) -> Response:
        return await submit(app_id, request)

    return handler


for _app in APPS:
    router.add_api_route(f"/fal/{_app}", _make_submit(_app), methods=["POST"])


def _find(request: Request, request_id: str) -> dict[str, Any] | Response:
    """The queued request, or fal's answer without one (the key refused, 404 unknown id)."""
    refused = auth_refusal(request)
    if refused is not None:
        return refused
    job: dict[str, Any] | None = store(request).requests.get(request_id)
    if job is None:
        return JSONResponse({"detail": "Request not found"}, status_code=404)
    return job


async def status(request_id: str, request: Request) -> Response:
    job = _find(request, request_id)
    if isinstance(job, Response):
        return job
    base = str(request.url).removesuffix("/status")
    now = time.monotonic()
    if not job["cancelled"] and now < job["started_at"]:
        answer = {"status": "IN_QUEUE", "queue_position": 0, "response_url": base}
        return respond(answer, status=202)
    if not job["cancelled"] and now < job["done_at"]:
        return respond({"status": "IN_PROGRESS", "logs": [], "response_url": base}, status=202)
    body: dict[str, Any] = {"status": "COMPLETED", "logs": [], "response_url": base}
    if job["cancelled"]:  # as emulators.routes.fal status_body
        body |= {"error": "Request was cancelled", "error_type": "request_cancelled"}
    elif job["failed"]:  # the scenario's job_failure: the runner failed after the queue took it
        body |= {"error": "Runner failed", "error_type": "runner_failure"}
    return respond(body)


async def cancel(request_id: str, request: Request) -> Response:
    """fal's queue cancel (fal.ai/docs/inference-api/queue/cancel, read 2026-12-05): a request
    not finished yet is cancelled (202 ``CANCELLATION_REQUESTED``; here it stops at once, queued or
    running), a finished one answers 400 ``ALREADY_COMPLETED``, an unknown one 404."""
    job = _find(request, request_id)
    if isinstance(job, Response):
        return job
    if job["cancelled"] or time.monotonic() >= job["done_at"]:
        return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
    job["cancelled"] = True
    return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)


async def result(request_id: str, request: Request) -> Response:
    job = _find(request, request_id)
    if isinstance(job, Response):
        return job
    if job["cancelled"]:
        return JSONResponse({"detail": "Request was cancelled"}, status_code=400)
    if time.monotonic() < job["done_at"]:
        return JSONResponse({"detail": "Request is still in progress"}, status_code=400)
    if job["failed"]:
        return JSONResponse({"detail": "Runner failed"}, status_code=500)
    app_id, body = job["app"], job["body"]
    errors, (width, height), refs = check(app_id, body)
    if errors:
        return JSONResponse({"detail": errors}, status_code=422)
    flagged = bool(job["refused"])
    if flagged and app_id != "fal-ai/flux/schnell":
        detail = [
            {
                "loc": ["body", "prompt"],
                "msg": "The content could not be processed: flagged by a content checker (content policy).",
                "type": "content_policy_violation",
            }
        ]
        return JSONResponse({"detail": detail}, status_code=422)
    return respond(_images(request, request_id, body, width, height, refs, flagged))


# only the image apps' queue roots: every other root is the video apps' (emulators.routes.fal)
for _root in ("fal-ai/flux", "fal-ai/flux-pro"):
    router.add_api_route(f"/fal/{_root}/requests/{{request_id}}/status", status, methods=["GET"])
    router.add_api_route(f"/fal/{_root}/requests/{{request_id}}", result, methods=["GET"])
    router.add_api_route(f"/fal/{_root}/requests/{{request_id}}/cancel", cancel, methods=["PUT"])


def _images(
    request: Request,
    request_id: str,
    body: dict[str, Any],
    width: int,
    height: int,
    refs: list[Reference],
    flagged: bool,
) -> dict[str, Any]:
    fmt = str(body.get("output_format", "jpeg"))
    mime = "image/png" if fmt == "png" else "image/jpeg"
    sent = body.get("seed")
    seed = int(sent) if isinstance(sent, int) else 42
    count = int(body.get("num_images") or 1)
    images, files = [], store(request).files
    for index in range(count):
        if flagged:  # [TOOLKIT] filter_by: a black image of the same size
            data = _black(width, height, mime)
        else:
            data = picture(str(body.get("prompt") or ""), width, height, seed + index, refs, mime)
        name = f"{request_id}-{index}.{'png' if fmt == 'png' else 'jpg'}"
        if body.get("sync_mode") is True:  # [FALJS] sync_mode: "returned as a data URI"
            url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        else:
            files[name] = (data, mime)
            url = f"{flow.root(request)}/_images/{name}"
        images.append({"url": url, "width": width, "height": height, "content_type": mime})
    return {
        "images": images,
        "seed": seed,
        "has_nsfw_concepts": [flagged] * count,
        "prompt": body.get("prompt"),
        "timings": {"inference": 0.01},
    }


def _black(width: int, height: int, mime: str) -> bytes:
    import numpy as np

    from adapters._images_local import encode

    return encode(np.zeros((height, width, 3), np.uint8), mime)


@router.get("/_images/{name}")
async def image_file(name: str, request: Request) -> Response:
    """The CDN fal hands image URLs on (fal.media): no credential needed."""
    found = store(request).files.get(name)
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(found[0], media_type=found[1])
