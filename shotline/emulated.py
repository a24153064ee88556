"""The emulator that ``--providers emulated`` runs against, for every command that takes it
(``render``, ``commit``, ``serve``): the one at ``SHOTLINE_EMULATOR_URL`` (e.g. a running
``shotline emulate``, which brings its own scenario), else a new one in this process on a free
loopback port, with ``--scenario`` when given."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from foundation.errors import InvalidInputError, Problem, ShotlineError

if TYPE_CHECKING:
    from pipeline.context import RunContext


def refuse_scenario_alone(providers: str, scenario: Path | None) -> None:
    """A scenario shapes only an emulator: with other providers it was ignored without a word
    (``render --providers local --scenario FILE`` rendered as if it were not given)."""
    if scenario is not None and providers != "emulated":
        raise InvalidInputError(
            "--scenario needs emulated providers",
            [Problem("--scenario", f"add --providers emulated (got --providers {providers})")],
        )


def emulator_urls(
    emulator_url: str | None, stack: ExitStack, scenario: Path | None
) -> tuple[dict[str, str], dict[str, str]]:
    """The emulator's provider and judge base URLs: the one at ``emulator_url`` when set, else
    one started here (it stops with ``stack``). A scenario cannot be given to an emulator that is
    already running elsewhere."""
    from emulators import start_emulator, urls_for

    if emulator_url and scenario is not None:
        raise InvalidInputError(
            "--scenario applies only to an emulator started by this command",
            [
                Problem(
                    "--scenario",
                    f"SHOTLINE_EMULATOR_URL={emulator_url} is already running with its own "
                    f"scenario: start it with `shotline emulate --scenario {scenario}`, or unset "
                    "the variable to start one here",
                )
            ],
        )
    if emulator_url:
        check_answers(emulator_url)
        return urls_for(emulator_url)
    handle = stack.enter_context(start_emulator(scenario))
    return dict(handle.base_urls), dict(handle.judge_base_urls)


class EmulatorUnavailableError(ShotlineError):
    """No emulator answers at ``SHOTLINE_EMULATOR_URL``: nothing was made."""


HEALTH_TIMEOUT_S = 5.0


def check_answers(emulator_url: str) -> None:
    """Ask the emulator at ``emulator_url`` for its health before any job is made. Before, a
    render against a mistyped or stopped one spent every shot's attempts on ``connection
    refused`` and failed as "attempt budget of 4 used up"."""
    import httpx

    health = f"{emulator_url.rstrip('/')}/_emulator/health"
    try:
        answer = httpx.get(health, timeout=HEALTH_TIMEOUT_S)
        answer.raise_for_status()
    except httpx.HTTPError as exc:
        raise EmulatorUnavailableError(
            f"no emulator answers at SHOTLINE_EMULATOR_URL={emulator_url} ({exc}): start one "
            "with `shotline emulate`, or unset the variable to start one in this process"
        ) from None


def use_emulator(ctx: RunContext, stack: ExitStack, scenario: Path | None) -> None:
    """Point ``ctx``'s adapters and judges at the emulator (``emulator_urls``)."""
    ctx.base_urls, ctx.judge_base_urls = emulator_urls(ctx.settings.emulator_url, stack, scenario)


def use_running_emulator(ctx: RunContext) -> None:
    """Point ``ctx`` at the emulator at ``SHOTLINE_EMULATOR_URL`` when there is one (``plan``
    starts none: it only asks the free lookups, e.g. an ElevenLabs voice id)."""
    from emulators import urls_for

    if ctx.emulated and ctx.settings.emulator_url:
        ctx.base_urls, ctx.judge_base_urls = urls_for(ctx.settings.emulator_url)
