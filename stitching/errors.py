from foundation.errors import ShotlineError


class StitchError(ShotlineError):
    """Base of stitching errors."""


class ClipError(StitchError):
    """A source clip cannot be normalised (unreadable, no video, too short); names the shortfall."""

    status_code = 422
    exit_code = 2


class PlanError(StitchError):
    """Segments cannot form an edit plan (mismatched profile, overlapping transitions, ...)."""

    status_code = 422
    exit_code = 2


class VerificationError(StitchError):
    """The rendered output does not match the plan; the message carries the measured numbers."""

    def __init__(self, message: str, verification: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.verification = verification or {}
