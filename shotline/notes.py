"""Notes the CLI prints before a render: what the run will not do that the storyboard asks for,
and the shots of a preview that a commit could not take to final."""

from __future__ import annotations

from collections.abc import Collection

import router
from foundation.storyboard import Mode, Storyboard
from pipeline import commit_final, planning
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


def commit_note(
    ctx: RunContext, board: Storyboard, mode: Mode, said: Collection[str] = ()
) -> str | None:
    """For a preview: what a commit could not take to final, and why
    (``commit_final.uncommittable``; the commit would refuse it before any spend, but after the
    preview was paid for). ``said``: paths the preview itself is refused at, said by its error
    (a mistyped pin was named twice, in the note and in the error)."""
    if mode != Mode.PREVIEW:
        return None
    problems = [
        p
        for p in commit_final.uncommittable(ctx, board)
        if not any(p.path == path or p.path.startswith(f"{path}.") for path in said)
    ]
    if not problems:
        return None
    listed = "; ".join(f"{p.path}: {p.message}" for p in problems)
    return (
        f"a commit of this preview would be refused, its final could not render: {listed}. "
        "Change them before previewing, or render with --mode final."
    )


def notes(
    ctx: RunContext, board: Storyboard, mode: Mode, refused: Collection[str] = ()
) -> list[str]:
    """Every note for a render of ``board`` in ``mode`` (``refused``: paths its own error names)."""
    found = (local_pin_note(ctx, board, mode), commit_note(ctx, board, mode, refused))
    return [note for note in found if note]


def local_final_note(ctx: RunContext) -> str | None:
    """For a commit: its final renders every shot on the local animatic ($0) when no hosted
    provider is enabled (``auto`` with no key set, ``local``); the quote said only
    ``local/animatic draft $0.00``."""
    enabled = router.provider_availability(ctx.providers, ctx.settings).enabled
    if ctx.emulated or enabled - {"local"}:
        return None
    why = (
        "--providers local"
        if ctx.providers == "local"
        else f"no hosted provider key is set, so --providers {ctx.providers}"
    )
    return (
        f"{why} renders the final on the local animatic at $0; set a provider's key, or commit "
        "with --providers emulated to render it on the emulators"
    )
