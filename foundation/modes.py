"""The render mode of a job: a cheap ``preview``, or the ``final`` render of approved shots.

A module of its own so that the CLI can offer ``--mode`` without loading the storyboard model.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    PREVIEW = "preview"
    FINAL = "final"
