"""``shotline serve --providers emulated`` uses the emulator at SHOTLINE_EMULATOR_URL when set."""

from __future__ import annotations

from contextlib import ExitStack

import emulators
from foundation.settings import get_settings
from pipeline.context import RunContext
from shotline.commands.serve import _start_emulator


def test_the_emulator_at_the_url_is_used_and_none_is_started(monkeypatch):
    def never(*_args, **_kwargs):
        raise AssertionError("an emulator was started")

    monkeypatch.setattr(emulators, "start_emulator", never)
    ctx = RunContext.create("emulated", get_settings())
    ctx.settings.emulator_url = "http://127.0.0.1:9/"
    with ExitStack() as stack:
        _start_emulator(ctx, stack)
        assert ctx.base_urls["runway"] == "http://127.0.0.1:9/runway"
        assert ctx.judge_base_urls["gemini"] == "http://127.0.0.1:9/google/v1beta"


def test_without_a_url_one_is_started_in_this_process():
    ctx = RunContext.create("emulated", get_settings())
    ctx.settings.emulator_url = None
    with ExitStack() as stack:
        _start_emulator(ctx, stack)
        assert ctx.base_urls["runway"].startswith("http://127.0.0.1:")
        assert ctx.base_urls["runway"] != "http://127.0.0.1:9/runway"
