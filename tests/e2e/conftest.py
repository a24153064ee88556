"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.router.test_cli_plan import app_with, run


@pytest.fixture
def cli(tmp_path, monkeypatch) -> Callable[..., Any]:
    """``shotline render`` in this process, its data under the test's own folder."""
    from shotline.commands import render

    monkeypatch.setenv("SHOTLINE_DATA_DIR", str(tmp_path / "data"))
    app = app_with(render)
    return lambda *args: run(*args, app=app)
