"""Notes the CLI prints before a render: what the run will not do that the storyboard asks for."""

from __future__ import annotations

import router
from foundation.storyboard import Mode, Storyboard
from pipeline import planning
from pipeline.context import RunContext


def local_pin_note(ctx: RunContext, board: Storyboard, mode: Mode) -> str | None:
    """What the README promises when a run can only render locally while shots pin hosted
    models (``--providers local``, ``auto`` with no key set, a free preview): which pins are
    ignored, why, and what would honour them."""
    providers = planning.preview_providers(board, mode, ctx.providers)
    enabled = router.provider_availability(providers, ctx.settings).enabled
    pins = {
        shot.id: str(shot.model)
        for _, shot in board.shots()
        if router.pin_ignored(ctx.registry, shot.model, enabled)
    }
    if not pins:
        return None
    ignored = ", ".join(f"{key} ({model})" for key, model in pins.items())
    if providers != ctx.providers:
        why = "this preview is free (preview: {free: true}), so every shot renders locally"
        fix = "render it with --mode final to use the pinned models"
    elif providers == "local":
        why = "--providers local renders every shot on the local animatic"
        fix = "use --providers auto with their keys, or --providers emulated"
    else:
        why = (
            f"no hosted provider key is set, so --providers {providers} renders every shot locally"
        )
        hosted = sorted({ctx.registry.get(model).provider for model in pins.values()})
        keys = ", ".join(f"SHOTLINE_{router.CREDENTIALS[p].upper()}" for p in hosted)
        fix = f"set {keys} to use them, or try --providers emulated"
    return f"{why}; pins ignored: {ignored}. {fix[0].upper()}{fix[1:]}."
