"""Every command and option of ``shotline`` is in the README's commands, and every command and
option the README shows exists, spelled as the CLI spells it."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer._click.core import Context

from shotline.cli import app
from tests.readme import document

Spellings = frozenset[str]


def command_tree() -> dict[tuple[str, ...], list[Spellings]]:
    """Each command's path (``("jobs", "show")``; the root is ``()``) -> each of its options'
    spellings (``{"-o", "--output"}``, ``{"--beat", "--no-beat"}``), help left out."""
    found: dict[tuple[str, ...], list[Spellings]] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        found[path] = [
            frozenset((*param.opts, *param.secondary_opts))
            for param in command.params
            if not type(param).__name__.endswith("Argument")
        ]
        if hasattr(command, "list_commands"):
            ctx = Context(command)
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), (*path, name))

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = command_tree()
LEAVES = [p for p in COMMANDS if p and not any(q[: len(p)] == p and q != p for q in COMMANDS)]


def options_of(path: tuple[str, ...]) -> set[str]:
    return {"-h", "--help"}.union(*COMMANDS[path], *COMMANDS[()])


def shown_commands() -> list[tuple[int, tuple[str, ...], str]]:
    """(line, command path, the rest of the command) of every ``shotline ...`` the README shows
    in code: inline spans and code-block lines, comments left out."""
    shown = []
    for number, code in [*document.code_spans(), *document.code_block_lines()]:
        for match in re.finditer(r"(?:^|[\s$(])shotline((?: [a-z][a-z-]*)*)(.*)", code):
            words = match.group(1).split()
            path: tuple[str, ...] = ()
            while words and (*path, words[0]) in COMMANDS:
                path = (*path, words.pop(0))
            shown.append((number, path, " ".join(words) + match.group(2).split("#")[0]))
    return shown


def options_in(command: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", command))


@pytest.mark.parametrize("path", LEAVES, ids=[" ".join(p) for p in LEAVES])
def test_every_command_and_option_is_shown(path: tuple[str, ...]) -> None:
    shown = [rest for _, p, rest in shown_commands() if p == path]
    assert shown, f"the README never shows `shotline {' '.join(path)}`"
    written = set().union(*(options_in(rest) for rest in shown))
    missing = [sorted(spellings) for spellings in COMMANDS[path] if not written & spellings]
    assert missing == [], f"`shotline {' '.join(path)}`'s options missing from the README"


def test_every_command_and_option_shown_exists() -> None:
    wrong = [
        f"line {number}: `shotline {' '.join(path)}` has no {option}"
        for number, path, rest in shown_commands()
        for option in sorted(options_in(rest) - options_of(path))
    ]
    wrong += [
        f"line {number}: `shotline {' '.join(path)}` has no command {word.group(1)}"
        for number, path, rest in shown_commands()
        if path not in LEAVES and (word := re.match(r" ([a-z][a-z-]*)\b(?![/_:])", rest))
    ]
    assert wrong == []


def test_a_command_it_does_not_know_is_no_command() -> None:
    assert ("jobs", "list") in COMMANDS
    assert ("jobs", "--status") not in COMMANDS
    assert options_in("[--status S] [-o OUT.mp4] a-b") == {"--status", "-o"}
