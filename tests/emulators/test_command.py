"""``shotline emulate`` and the package's public names."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

import emulators
from shotline.commands import emulate


def app() -> typer.Typer:
    cli = typer.Typer()
    emulate.register(cli)

    @cli.command()
    def other() -> None:
        """Keeps typer in multi-command mode."""

    return cli


def test_bad_scenario_exits_2(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text("defaults: {latency: {dist: gaussian}}\n")
    result = CliRunner().invoke(app(), ["emulate", "--port", "0", "--scenario", str(path)])
    assert result.exit_code == 2
    assert "invalid scenario" in result.output


def test_public_names_are_sorted_and_exported():
    assert emulators.__all__ == sorted(emulators.__all__)
    assert all(hasattr(emulators, name) for name in emulators.__all__)
