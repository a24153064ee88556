"""One error family for the whole project.

Every package has an ``errors.py`` whose base class derives from one of these. HTTP mapping happens
only in ``api/``; the CLI maps ``exit_code``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, at a dotted path such as ``scenes[1].shots[0].duration``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ShotlineError(Exception):
    """Base of every error the project raises on purpose."""

    status_code = 500
    exit_code = 1
    retriable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(ShotlineError):
    """The caller's input is unusable; ``problems`` lists every reason with its path."""

    status_code = 422
    exit_code = 2

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        self.problems = problems or [Problem("", message)]
        details = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{message}\n{details}" if problems else message)
        self.summary = message


class NotFoundError(ShotlineError):
    status_code = 404


class ConflictError(ShotlineError):
    status_code = 409


class BudgetExceededError(ShotlineError):
    """Spending would pass a budget; nothing was spent for the refused work."""

    status_code = 402
    exit_code = 3


class JobFailedError(ShotlineError):
    """A job ended without a deliverable; ``stage`` and ``shot_id`` say where."""

    exit_code = 4

    def __init__(self, message: str, stage: str, shot_id: str | None = None) -> None:
        super().__init__(message)
        self.stage = stage
        self.shot_id = shot_id
