from foundation.errors import ShotlineError


class MediaError(ShotlineError):
    """Base of media errors."""


class FFmpegUnsupportedError(MediaError):
    """The configured FFmpeg cannot be used; the message names what is missing and what to do."""

    exit_code = 2
