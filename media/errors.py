from foundation.errors import ShotlineError


class MediaError(ShotlineError):
    """Base of media errors."""


class FFmpegUnsupportedError(MediaError):
    """The configured FFmpeg cannot be used; the message names what is missing and what to do."""

    exit_code = 2


class FFmpegError(MediaError):
    """FFmpeg exited non-zero; carries its return code and the tail of its stderr."""

    def __init__(self, returncode: int, stderr_tail: str, argv: list[str]) -> None:
        super().__init__(f"ffmpeg exited {returncode}: {stderr_tail.strip()[-800:]}")
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.argv = argv
