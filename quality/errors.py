from foundation.errors import ShotlineError


class QualityError(ShotlineError):
    """Base of quality-gate errors (bad arguments, unreadable policy)."""
