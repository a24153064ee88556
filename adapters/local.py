"""``local/animatic`` and ``local/still``: the local renderers behind the same adapter contract
as a hosted provider (``provider_model`` says which draws the clip).

``submit`` only records the request (so it is instant and its id can be persisted first); ``poll``
renders when the clip does not exist yet; ``fetch`` copies the clip into the asset store, measured.
A restarted process resumes from the job id alone.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from adapters.animatic import render_animatic
from adapters.base import Asset, GenerationRequest, JobState, PollResult
from adapters.errors import AssetError, RejectedInputError
from adapters.still import render_still
from media.probe import probe

__all__ = ["LocalAnimaticAdapter", "render_animatic", "request_key"]


def _payload(request: GenerationRequest) -> dict[str, Any]:
    """The request as JSON values (paths as strings)."""
    data = asdict(request)
    data["reference_image"] = str(request.reference_image) if request.reference_image else None
    data["reference_images"] = [str(p) for p in request.reference_images]
    return data


def request_key(request: GenerationRequest) -> str:
    """Hash of everything that determines the rendered clip."""
    payload = _payload(request)
    if not request.reference_images:  # keys of requests made before references stay the same
        del payload["reference_images"]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _request_from(data: dict[str, Any]) -> GenerationRequest:
    if data.get("reference_image"):
        data["reference_image"] = Path(data["reference_image"])
    data["reference_images"] = tuple(Path(p) for p in data.get("reference_images") or ())
    return GenerationRequest(**data)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class LocalAnimaticAdapter:
    provider = "local"
    speaks_dialogue = True  # the animatic voices the line (espeak-ng or a placeholder voice)

    def __init__(self, work_dir: Path) -> None:
        self.jobs = work_dir / "local-jobs"
        self.jobs.mkdir(parents=True, exist_ok=True)

    def _paths(self, job_id: str) -> tuple[Path, Path]:
        if not job_id.startswith("anim-") or not job_id[5:].isalnum():
            raise RejectedInputError(f"unknown job id {job_id!r}", self.provider)
        return self.jobs / f"{job_id}.json", self.jobs / f"{job_id}.mp4"

    def submit(self, request: GenerationRequest) -> str:
        if request.width % 2 or request.height % 2 or request.duration_s <= 0 or request.fps <= 0:
            raise RejectedInputError(
                f"cannot render {request.width}x{request.height} "
                f"{request.duration_s}s @ {request.fps} fps",
                self.provider,
            )
        job_id = f"anim-{request_key(request)[:20]}"
        spec, _ = self._paths(job_id)
        if not spec.exists():
            tmp = spec.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(_payload(request), sort_keys=True))
            tmp.replace(spec)
        return job_id

    def poll(self, job_id: str) -> PollResult:
        spec, clip = self._paths(job_id)
        if not spec.exists():
            return PollResult(
                JobState.FAILED, error=RejectedInputError(f"no job {job_id}", self.provider)
            )
        if not clip.exists():
            request = _request_from(json.loads(spec.read_text()))
            render = render_still if request.provider_model == "still" else render_animatic
            try:
                render(request, clip)
            except RejectedInputError as exc:
                return PollResult(JobState.FAILED, error=exc)
        return PollResult(JobState.SUCCEEDED, progress=1.0)

    def cancel(self, job_id: str) -> bool:
        return False

    def fetch(self, job_id: str, dest_dir: Path) -> Asset:
        _, clip = self._paths(job_id)
        if not clip.exists():
            self.poll(job_id)
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / f"{job_id}.mp4"
        tmp = dest.with_suffix(".part")
        shutil.copyfile(clip, tmp)
        tmp.replace(dest)
        info = probe(dest)
        if info.error or not info.has_video:
            raise AssetError(f"rendered clip is unreadable: {info.error}", self.provider)
        return Asset(
            path=dest,
            sha256=sha256_file(dest),
            duration_s=info.duration_s,
            width=info.width,
            height=info.height,
            fps=info.fps,
            has_audio=info.has_audio,
            provider_job_id=job_id,
            provider_cost_usd=0.0,
        )
