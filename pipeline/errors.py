from adapters.errors import ProviderError
from shotline.errors import ShotlineError


class PipelineError(ShotlineError):
    """Base of pipeline errors."""


class CircuitOpenError(ProviderError):
    """The model's or provider's circuit breaker is open: the attempt moves down the chain."""

    kind = "circuit_open"
