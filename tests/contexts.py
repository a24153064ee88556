"""Run contexts the tests build: the application on emulated providers, its emulator running."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from foundation.settings import Settings
from pipeline.context import RunContext
from shotline.emulated import use_emulator


def emulated_context(tmp_path: Path, stack: ExitStack) -> RunContext:
    """A context on emulated providers with its data under ``tmp_path``; the emulator it starts
    stops with ``stack``."""
    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    use_emulator(ctx, stack, None)
    return ctx
