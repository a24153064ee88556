"""The command group of ``shotline`` and of its sub-apps (``budget``, ``keys``): typer's, made to
start light."""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup

from foundation.errors import ShotlineError

HELP_ONLY = "shotline.help_only"
COMMAND = "shotline.command"


class ShotlineGroup(TyperGroup):
    """Notes in ``ctx.meta[HELP_ONLY]`` whether the subcommand is only asked for its help, and in
    ``ctx.meta[COMMAND]`` the command line's command before any callback runs: ``render``, or a
    sub-app's ``jobs resume``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta[HELP_ONLY] = any(arg in ctx.help_option_names for arg in rest)
        group = hasattr(command, "list_commands")  # ``jobs``: its command is the next word
        sub = [w for w in rest[:1] if not w.startswith("-")] if group else []
        ctx.meta.setdefault(COMMAND, " ".join([name or "", *sub]))
        if command is not None and not isinstance(command, ShotlineGroup):
            _help_defaults_false(command.get_help_option(ctx))
        return name, command, rest

    def invoke(self, ctx: Any) -> Any:
        """Run the command; a ``ShotlineError`` its own handling let through (a database that
        cannot be opened, met before a command's ``try``) ends it as every command's errors do,
        not as a traceback (as JSON when the command line asks for ``--json``)."""
        words = [*ctx._protected_args, *ctx.args]  # private in typer 0.29's own click
        try:
            return super().invoke(ctx)
        except ShotlineError as exc:
            from shotline.console import fail_with
            from shotline.terminal import terminal

            fail_with(exc, terminal(stderr=True), as_json="--json" in words)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        _help_defaults_false(option)
        return option


def _help_defaults_false(option: Any) -> None:
    """Typer coerces an absent flag's None through pydantic (~0.3 s to import); False it skips.
    A sub-app's commands (``jobs list``) get their help option here, from the group that runs them."""
    if option is not None:
        option.default = False
