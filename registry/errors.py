"""Errors of the model catalog."""

from __future__ import annotations

from foundation.errors import InvalidInputError, NotFoundError, ShotlineError


class RegistryError(ShotlineError):
    """Base of every registry error."""


class RegistryFileError(RegistryError, InvalidInputError):
    """A registry file is malformed; each problem names the model and the field at fault."""


class UnknownModelError(RegistryError, NotFoundError):
    """No model with that id is in the catalog."""


class PriceUnavailableError(RegistryError, InvalidInputError):
    """The catalog has no price for that combination of seconds, resolution and audio."""
