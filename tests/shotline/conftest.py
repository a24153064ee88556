"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def blocker(tmp_path: Path) -> Path:
    """A file where a folder would have to be."""
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return path
