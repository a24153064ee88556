"""Luma: the legacy Dream Machine API (ray-2, ray-flash-2) and the Agents API (ray-3.2).

The surface is picked by ``provider_model``; the job id carries it (``dm/<id>`` or ``agents/<id>``)
so ``poll`` works from the id alone. With a ``base_url`` override both surfaces live under it
(``{base}/dream-machine/v1/...`` and ``{base}/v1/...``), which is how the emulator serves them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx

from adapters._hosted import (
    HostedAdapter,
    JobStatus,
    failed,
    running,
    succeeded,
)
from adapters.base import GenerationRequest
from adapters.download import DownloadLimits
from adapters.errors import (
    ProviderError,
    ProviderFailureError,
    RateLimitedError,
    RejectedInputError,
    SafetyRefusalError,
    answer_shape,
)
from adapters.image_port import Frame, ImagePort, first_frame

AGENTS_MODELS = ("ray-3",)
RECONCILE_PAGES, RECONCILE_PAGE_SIZE = 5, 100
RECONCILE_SKEW_S = 60.0
AGENTS_BASE = "https://agents.lumalabs.ai"
# lumaai 1.21.0 VideoCreateParams.aspect_ratio; ray-3.2 video takes the same set less 9:21
# (docs.agents.lumalabs.ai/guides/videos/generation, per the 2026-07-10 SKILL.md of
# calesthio/generative-media-skills)
LEGACY_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")
AGENTS_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9")
_FAILED = ("failed",)

# 50 MB of media: Luma's error docs, earlier revision "Image exceeds 50 MB" (UNCERTAIN now), as
# the emulator (emulators/routes/luma_rules.py MEDIA_LIMIT)
IMAGE_PORT = ImagePort("luma", max_uri_chars=50 * 1024 * 1024 * 4 // 3)


def nearest_ratio(width: int, height: int, allowed: tuple[str, ...] = AGENTS_RATIOS) -> str:
    def value(name: str) -> float:
        w, _, h = name.partition(":")
        return int(w) / int(h)

    return min(allowed, key=lambda name: abs(value(name) - width / height))


def image_ref(frame: Frame) -> dict[str, str]:
    """luma-agents 0.5.0 ``ImageRefParam``: inline bytes are ``{data, media_type}`` (plain base64;
    ``media_type`` is required with ``data``), never a data: URI in ``url``."""
    return {"data": frame.base64(), "media_type": frame.mime}


def _frame(request: GenerationRequest) -> Frame:
    assert request.reference_image is not None
    return first_frame(request.reference_image, request.width, request.height, IMAGE_PORT)


def luma_resolution(width: int, height: int) -> str:
    short = min(width, height)
    for name, size in (("360p", 360), ("540p", 540), ("720p", 720), ("1080p", 1080)):
        if short <= size:
            return name
    return "4k"


class LumaAdapter(HostedAdapter):
    provider = "luma"
    default_base_url: ClassVar[str] = "https://api.lumalabs.ai"

    def __init__(
        self,
        *,
        api_key: Any,
        base_url: str | None = None,
        asset_dir: Path | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        limits: DownloadLimits | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            asset_dir=asset_dir,
            timeout=timeout,
            transport=transport,
            limits=limits,
        )
        self.agents_base = self.base_url if base_url else AGENTS_BASE
        self.allow_api_origins(self.agents_base)

    def _legacy_body(self, request: GenerationRequest, model: str) -> dict[str, Any]:
        resolution = luma_resolution(request.width, request.height)
        body: dict[str, Any] = {
            "model": model,
            "prompt": request.spoken_prompt,
            "aspect_ratio": nearest_ratio(request.width, request.height, LEGACY_RATIOS),
            "duration": "9s" if request.duration_s > 7 else "5s",
            "resolution": "540p" if resolution == "360p" else resolution,
            "loop": False,
        }
        if request.reference_image is not None:
            # the registry gives these models no image (docs.lumalabs.ai/docs/video-generation:
            # an image only as a URL Luma fetches, which shotline does not host)
            raise RejectedInputError(
                f"{model} takes a first frame only as a public image URL", "luma", None
            )
        return body

    def _agents_body(self, request: GenerationRequest, model: str) -> dict[str, Any]:
        if request.extend_job:
            return _extension_body(request, model)
        duration = "10s" if request.duration_s > 7 else "5s"
        video: dict[str, Any] = {
            "resolution": luma_resolution(request.width, request.height),
            "duration": duration,
        }
        if request.reference_image is not None:
            ref = image_ref(_frame(request))
            if duration == "10s":
                # luma-agents 0.5.0 VideoOptionsParam: start_frame/end_frame (the legacy 2-frame
                # surface) do not take 10s; one keyframe at index 0 is a start-pinned i2v that does
                video["keyframes"] = [ref]
                video["keyframe_indexes"] = [0]
            else:
                video["start_frame"] = ref
        return {
            "model": model,
            "type": "video",
            "prompt": request.spoken_prompt[:6000],
            "aspect_ratio": nearest_ratio(request.width, request.height),
            "video": video,
        }

    def submit(self, request: GenerationRequest) -> str:
        model = request.provider_model or "ray-2"
        if model.startswith(AGENTS_MODELS):
            url = f"{self.agents_base}/v1/generations"
            data = self._http.json("POST", url, json=self._agents_body(request, model))
            prefix = "agents"
        else:
            url = "/dream-machine/v1/generations/video"
            data = self._http.json("POST", url, json=self._legacy_body(request, model))
            prefix = "dm"
        if not data.get("id"):
            raise ProviderFailureError("generation without an id", self.provider, data)
        return f"{prefix}/{data['id']}"

    def find_submission(self, request: GenerationRequest, since: float) -> list[str]:
        """Reconcile (``FindsLostSubmissions``) on Dream Machine: ``GET /dream-machine/v1/
        generations?limit=&offset=`` (lumaai 1.21.0 ``generations.list``; each generation echoes
        its ``request``), newest first, back to ``since``; the ones whose request carries the fields
        this request sets. Compared field by field, not as a whole: UNCERTAIN whether Luma echoes
        keyframe data URIs as sent, so only their presence counts. The Agents API (ray-3.2) lists
        nothing (luma-agents 0.5.0 ``generations``: create and get), so a lost create there cannot
        be found: this raises, and the attempt is held for an operator."""
        model = request.provider_model or "ray-2"
        if model.startswith(AGENTS_MODELS):
            raise ProviderError("Luma's Agents API has no generation list", self.provider)
        expected = _matchable(self._legacy_body(request, model))
        found: list[str] = []
        for page in range(RECONCILE_PAGES):
            query = {"limit": RECONCILE_PAGE_SIZE, "offset": page * RECONCILE_PAGE_SIZE}
            data = self._http.json("GET", "/dream-machine/v1/generations", params=query)
            with answer_shape(self.provider, data):
                generations = [g for g in data.get("generations") or [] if isinstance(g, dict)]
                for gen in generations:
                    if _created(gen) < since - RECONCILE_SKEW_S:
                        return found
                    if gen.get("id") and _matchable(gen.get("request") or {}) == expected:
                        found.append(f"dm/{gen['id']}")
            if not data.get("has_more") or not generations:
                break
        return found

    def _url(self, job_id: str) -> str:
        prefix, _, gen_id = job_id.partition("/")
        if prefix == "agents":
            return f"{self.agents_base}/v1/generations/{gen_id}"
        return f"/dream-machine/v1/generations/{gen_id}"

    def _status(self, job_id: str) -> JobStatus:
        gen = self._http.json("GET", self._url(job_id))
        state = str(gen.get("state") or gen.get("status") or "")
        if state == "completed":
            url = _output_url(gen)
            if not url:
                return failed(ProviderFailureError("completed without video", self.provider, gen))
            return succeeded(gen, url)
        if state in _FAILED:
            return failed(_failure(self.provider, gen))
        if state == "queued":
            return running(gen, queued=True)
        # dreaming (legacy), processing (Agents) and any state this adapter does not know yet:
        # still in progress, waited on with the attempt timeout, never counted as a failure
        return running(gen)

    def _cancel(self, job_id: str) -> bool:
        if job_id.startswith("agents/"):
            return False
        try:
            self._http.call("DELETE", self._url(job_id))
        except RejectedInputError:
            return False
        return True


def _extension_body(request: GenerationRequest, model: str) -> dict[str, Any]:
    """A forward extension of the previous part's generation (registry ``extend``): a 5 s
    ``type: video`` whose ``video.start_frame`` is ``{generation_id}`` of that completed ray-3.2
    generation (luma-agents 0.3.0 ``ImageRefParam.generation_id``: "on video.start_frame /
    video.end_frame for video extension"). As ComfyUI's ``nodes_luma.py``
    ``LumaRay32ExtendVideoNode`` sends it (fork zhongzichang/ComfyUI ea98225a, 2026): duration
    ``5s`` ("Extensions are always 5 seconds"), the resolution, no aspect ratio (the source's) and
    no loop. Luma answers with the 5 s extension alone (docs.comfy.org; docs.gmicloud.ai "one 5s
    block per call")."""
    assert request.extend_job is not None
    _, _, generation_id = request.extend_job.rpartition("/")  # "agents/<uuid>" -> "<uuid>"
    video = {
        "resolution": luma_resolution(request.width, request.height),
        "duration": "5s",
        "start_frame": {"generation_id": generation_id},
    }
    return {"model": model, "type": "video", "prompt": request.spoken_prompt[:6000], "video": video}


def _output_url(gen: dict[str, Any]) -> str | None:
    assets = gen.get("assets")
    if isinstance(assets, dict) and assets.get("video"):
        return str(assets["video"])
    for item in gen.get("output") or []:
        if isinstance(item, dict) and item.get("url") and item.get("type", "video") == "video":
            return str(item["url"])
    return None


# luma-agents 0.5.0 types/generation_failure_code.py: what a failed generation's input did wrong
# (retrying the same input cannot help) apart from the provider's own failures
# (generation_failed, output_not_found)
REFUSED_INPUT_CODES = frozenset(
    {
        "budget_exhausted",
        "image_too_large",
        "unsupported_format",
        "corrupt_input",
        "invalid_request",
    }
)


def _failure(provider: str, gen: dict[str, Any]) -> ProviderError:
    code = str(gen.get("failure_code") or "")
    reason = str(gen.get("failure_reason") or code or "generation failed")
    if code == "content_moderated" or "moderat" in reason.lower():
        return SafetyRefusalError(reason, provider, gen)
    if code in REFUSED_INPUT_CODES:
        return RejectedInputError(reason, provider, gen)
    if code == "rate_limited":
        return RateLimitedError(reason, provider, raw=gen)
    return ProviderFailureError(reason, provider, gen)


def _matchable(body: dict[str, Any]) -> tuple[Any, ...]:
    """The fields of a Dream Machine request that tell two creates apart."""
    fields = ("model", "prompt", "aspect_ratio", "duration", "resolution", "loop")
    return (*(body.get(name) for name in fields), bool(body.get("keyframes")))


def _created(gen: dict[str, Any]) -> float:
    """A generation's ``created_at`` in epoch seconds (one without counts as new)."""
    try:
        return datetime.fromisoformat(
            str(gen.get("created_at") or "").replace("Z", "+00:00")
        ).timestamp()
    except ValueError:
        return float("inf")
