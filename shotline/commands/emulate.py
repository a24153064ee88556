"""``shotline emulate``: every hosted provider and both judge APIs on one local server."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from foundation.errors import InvalidInputError
from shotline.console import fail_with

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from emulators import EmulatorHandle

DEFAULT_PORT = 8787


def emulate(
    host: Annotated[str, typer.Option(help="address to listen on (keep it on loopback)")] = (
        "127.0.0.1"
    ),
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="port; 0 picks a free one")
    ] = DEFAULT_PORT,
    scenario: Annotated[
        Path | None, typer.Option(help="scenario YAML: latency, faults, defects (seeded)")
    ] = None,
) -> None:
    """Serve emulated provider APIs until interrupted. No request ever leaves this machine."""
    from shotline.terminal import terminal

    console = terminal()
    # `kill` stops it like Ctrl-C, from the start: a SIGTERM before the handler (a supervisor that
    # stops it as soon as it says it is ready) killed it with its media directory left behind
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with _started(scenario, host, port, console) as handle:
            console.print(_table(handle.base_urls, handle.judge_base_urls))
            console.print(
                f"stats: {handle.base_url}/_emulator/stats    "
                f"scenario: {scenario or 'clean default'}\n"
                "[bold]Emulated providers: no money is spent.[/bold] Ctrl-C stops."
            )
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)


def _started(scenario: Path | None, host: str, port: int, console: Console) -> EmulatorHandle:
    """The emulator, serving; a scenario or an address it cannot use exits (its code, or 1)."""
    from rich.markup import escape

    from emulators import start_emulator

    try:
        return start_emulator(scenario, host=host, port=port)
    except InvalidInputError as exc:
        fail_with(exc, console, as_json=False)  # "error: ...", as every command says it
    except (OSError, RuntimeError) as exc:
        console.print(f"[red]error:[/] {escape(f'cannot serve on {host}:{port}: {exc}')}")
        raise typer.Exit(1) from exc


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _table(base_urls: dict[str, str], judge_urls: dict[str, str]) -> Table:
    from rich.table import Table

    table = Table(title="shotline provider emulator")
    table.add_column("api")
    table.add_column("base URL")
    for provider, url in base_urls.items():
        table.add_row(provider, url)
    for name, url in judge_urls.items():
        table.add_row(f"judge: {name}", url)
    return table


def register(app: typer.Typer) -> None:
    app.command(name="emulate")(emulate)
