"""``shotline serve`` hides its start-up objects from the garbage collector before it serves."""

from __future__ import annotations

import gc
from typing import Any

import uvicorn
from rich.console import Console

from shotline.commands.serve import serve_api


def test_the_server_starts_serving_with_its_startup_objects_frozen(monkeypatch):
    seen: dict[str, Any] = {}

    def fake_run(server: uvicorn.Server, sockets: object = None) -> None:
        seen["frozen"] = gc.get_freeze_count()
        seen["options"] = {"port": server.config.port}
        server.started = True

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    before = gc.get_freeze_count()
    try:
        serve_api("127.0.0.1", 0, "local", Console(quiet=True))
    finally:
        gc.unfreeze()
    assert seen["options"]["port"] > 0  # the port the system chose for 0, bound before
    assert seen["frozen"] > max(before, 10_000)
