"""The emulator that ``--providers emulated`` runs against, for every command that takes it
(``render``, ``commit``, ``serve``): the one at ``SHOTLINE_EMULATOR_URL`` (e.g. a running
``shotline emulate``, which brings its own scenario), else a new one in this process on a free
loopback port, with ``--scenario`` when given."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from foundation.errors import InvalidInputError, Problem

if TYPE_CHECKING:
    from pipeline.context import RunContext


def use_emulator(ctx: RunContext, stack: ExitStack, scenario: Path | None) -> None:
    """Point ``ctx``'s adapters and judges at the emulator; one started here stops with
    ``stack``. A scenario cannot be given to an emulator that is already running elsewhere."""
    from emulators import start_emulator, urls_for

    url = ctx.settings.emulator_url
    if url and scenario is not None:
        raise InvalidInputError(
            "--scenario applies only to an emulator started by this command",
            [
                Problem(
                    "--scenario",
                    f"SHOTLINE_EMULATOR_URL={url} is already running with its own scenario: "
                    f"start it with `shotline emulate --scenario {scenario}`, or unset the "
                    "variable to start one here",
                )
            ],
        )
    if url:
        ctx.base_urls, ctx.judge_base_urls = urls_for(url)
        return
    handle = stack.enter_context(start_emulator(scenario))
    ctx.base_urls, ctx.judge_base_urls = dict(handle.base_urls), dict(handle.judge_base_urls)


def use_running_emulator(ctx: RunContext) -> None:
    """Point ``ctx`` at the emulator at ``SHOTLINE_EMULATOR_URL`` when there is one (``plan``
    starts none: it only asks the free lookups, e.g. an ElevenLabs voice id)."""
    from emulators import urls_for

    if ctx.emulated and ctx.settings.emulator_url:
        ctx.base_urls, ctx.judge_base_urls = urls_for(ctx.settings.emulator_url)
