"""Luma ray-3.2's forward extension (Agents API): a ``type: video`` request whose
``video.start_frame`` is ``{generation_id}`` of an earlier ray-3.2 video generation.

Sources (each rule cites one):
- [SDK] luma-agents 0.3.0 (lumalabs/luma-agents-python 38837df, 2026-06-09)
  ``types/image_ref_param.py``: ``generation_id`` is the "UUID of a prior generation owned by the
  same caller ... on video.start_frame / video.end_frame for video extension";
- [DOC] docs.agents.lumalabs.ai/guides/videos/generation (stored copy 2026): "Keep the completed
  generation's top-level id if you want to edit, extend, or reframe it later";
- [COMFY] ComfyUI ``comfy_api_nodes/nodes_luma.py`` ``LumaRay32ExtendVideoNode`` (as copied in
  the fork zhongzichang/ComfyUI ea98225a, 2026): "Extensions are always 5 seconds", sends
  ``duration: 5s`` with the resolution and no aspect ratio; docs.comfy.org for the node: its
  output is the 5 s extension clip;
- [GMI] docs.gmicloud.ai luma-ray-3-2-generate (2026): extend "returns one 5s block per call",
  "Standard dynamic range only".
The answer is the 5 s extension alone, starting from the extended generation's last frame, at its
aspect ratio. UNCERTAIN: the refusal statuses (422 here: [ERRORS] in luma_rules "parameter
combination rejected", the closest documented class; Luma may instead fail the generation with
``failure_code: output_not_found``, luma-agents ``generation_failure_code.py``), and the total
cap (``MAX_TOTAL_S``, the registry's: no page states one). Backward extension (``end_frame``)
and interpolation are not emulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulators.media import ClipSpec, last_frame_png
from emulators.routes.luma_rules import Refused
from emulators.state import Emulator, Job

SECONDS = "5s"  # [COMFY] [GMI]
MAX_TOTAL_S = 30.0  # UNCERTAIN (registry luma/ray-3.2 extend.max_total_s)
MODEL = "ray-3.2"


@dataclass(frozen=True)
class Extension:
    """The generation an extension continues, and the length of the chain it ends."""

    source: Job
    total_s: float


def generation_ref(video: dict[str, Any]) -> str | None:
    """The ``generation_id`` an extension request continues from, or None for any other."""
    start, end = video.get("start_frame"), video.get("end_frame")
    start_ref = start.get("generation_id") if isinstance(start, dict) else None
    end_ref = end.get("generation_id") if isinstance(end, dict) else None
    if not (start_ref or end_ref):
        return None
    if end is not None:
        raise Refused("the emulator serves forward extensions only (start_frame.generation_id)")
    return str(start_ref)


def check_extension(
    emu: Emulator, caller: str | None, gen_id: str, video: dict[str, Any]
) -> Extension:
    """Raise ``Refused`` for what Luma refuses in a forward extension of ``gen_id``."""
    if video.get("duration", SECONDS) != SECONDS:
        raise Refused("an extension is always 5s (video.duration: 5s)", 422)  # [COMFY] [GMI]
    if video.get("hdr"):
        raise Refused("an extension is standard dynamic range only (hdr: false)", 422)  # [GMI]
    source = emu.jobs.get(gen_id.replace("-", ""))
    if source is None or source.provider != "luma" or source.extra.get("caller") != caller:
        # [SDK] "a prior generation owned by the same caller"
        raise Refused(f"generation {gen_id} not found", 422)
    if not source.extra.get("agents") or not source.model.startswith(MODEL):
        raise Refused(f"generation {gen_id} is not a {MODEL} video generation", 422)
    if emu.view(source).phase != "succeeded":
        raise Refused(f"generation {gen_id} is not completed", 422)  # [DOC] "the completed"
    total = float(str(source.extra.get("chain_s", source.spec.duration_s))) + 5.0
    if total > MAX_TOTAL_S:
        raise Refused(f"the extended video would be {total:g}s, over {MAX_TOTAL_S:g}s", 422)
    return Extension(source, total)


def extension_spec(spec: ClipSpec, extension: Extension, emu: Emulator) -> ClipSpec:
    """The 5 s block, rendered from the source's last frame at the source's aspect ratio and the
    requested resolution's short side."""
    clip = emu.clip_path(extension.source)
    width, height = extension.source.spec.width, extension.source.spec.height
    short = min(spec.width, spec.height)
    scale = short / min(width, height)
    size = (round(width * scale / 2) * 2, round(height * scale / 2) * 2)
    return ClipSpec(
        provider=spec.provider, model=spec.model, prompt=spec.prompt, duration_s=5.0,
        width=size[0], height=size[1], first_frame=last_frame_png(clip),
    )  # fmt: skip
