"""Errors of the per-shot router."""

from __future__ import annotations

from foundation.errors import InvalidInputError, ShotlineError


class RouterError(ShotlineError):
    """Base of every router error."""


class UnroutableShotsError(RouterError, InvalidInputError):
    """Some storyboard shots cannot be taken by any enabled model; one problem per shot, with the
    reason each model refused it. Raised before anything is spent (exit code 2)."""


class UnknownProvidersChoiceError(RouterError, InvalidInputError):
    """``--providers`` got something other than local, emulated, live or auto."""
