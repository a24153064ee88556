"""Which FFmpeg runs: the one that ships in the locked ``imageio-ffmpeg`` wheel, or the one that
``SHOTLINE_FFMPEG`` names, checked before first use against what the project needs.

A system FFmpeg on ``PATH`` (or ``IMAGEIO_FFMPEG_EXE``) is never picked up by accident: behaviour
must not depend on what else a machine has installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from foundation.settings import get_settings
from media.errors import FFmpegUnsupportedError

MIN_RELEASE = (5, 1)
"""The oldest FFmpeg release the project is run against (Debian 12's 5.1)."""

Kind = Literal["filter", "encoder", "muxer"]


@dataclass(frozen=True)
class Feature:
    kind: Kind
    name: str
    used_for: str


REQUIRED: tuple[Feature, ...] = (
    Feature("encoder", "libx264", "every H.264 output"),
    Feature("encoder", "aac", "audio of repaired clips"),
    Feature("muxer", "mp4", "every output"),
    Feature("muxer", "hls", "`stitch --hls`"),
    Feature("filter", "xfade", "crossfade, fade and wipe transitions"),
    Feature("filter", "tpad", "holding a short clip's last frame"),
    Feature("filter", "ebur128", "loudness measurement"),
    Feature("filter", "anullsrc", "silence for shots without audio"),
    Feature("filter", "aresample", "audio normalisation"),
    Feature("filter", "atrim", "sample-exact audio cuts"),
    Feature("filter", "apad", "sample-exact audio cuts"),
    Feature("filter", "split", "normalising and windows in one run"),
    Feature("filter", "freezeframes", "the emulators' frozen-clip defects"),
)

_LIST_FLAG: dict[Kind, str] = {"filter": "-filters", "encoder": "-encoders", "muxer": "-muxers"}
_VERSION = re.compile(r"ffmpeg version n?(\d+)\.(\d+)")


@dataclass(frozen=True)
class FFmpegBinary:
    """The FFmpeg in use: its path, where it came from and the version line it prints."""

    path: str
    source: Literal["imageio-ffmpeg wheel", "SHOTLINE_FFMPEG"]

    @property
    def version(self) -> str:
        """The version word of ``ffmpeg -version`` (``5.1.9-0+deb12u1``, ``n9.0.2-17-g2a57...``)."""
        words = _version_line(self.path).split()
        return words[2] if len(words) > 2 and words[1] == "version" else "unknown"

    @property
    def release(self) -> tuple[int, int] | None:
        """``(major, minor)``, or None for a build whose version is a git description."""
        found = _VERSION.search(_version_line(self.path))
        return (int(found[1]), int(found[2])) if found else None


def ffmpeg_exe() -> str:
    """Path of the FFmpeg executable to run (checked first when ``SHOTLINE_FFMPEG`` is set)."""
    return ffmpeg_binary().path


@cache
def ffmpeg_binary() -> FFmpegBinary:
    configured = get_settings().ffmpeg
    if configured is None:
        return FFmpegBinary(_wheel_ffmpeg(), "imageio-ffmpeg wheel")
    binary = FFmpegBinary(_resolve(str(configured)), "SHOTLINE_FFMPEG")
    check_ffmpeg(binary)
    return binary


def has_filter(name: str) -> bool:
    """Whether the FFmpeg in use has the filter ``name`` (``ass`` needs libass, ``drawtext``
    libfreetype)."""
    return name in _filters(ffmpeg_exe())


@cache
def _filters(path: str) -> frozenset[str]:
    return frozenset(_available(path)["filter"])


def check_ffmpeg(binary: FFmpegBinary) -> None:
    """Raise ``FFmpegUnsupportedError`` naming the first missing feature and the minimum release."""
    release = binary.release
    label = f"SHOTLINE_FFMPEG={binary.path} (version {binary.version})"
    floor = ".".join(map(str, MIN_RELEASE))
    if release is not None and release < MIN_RELEASE:
        raise FFmpegUnsupportedError(
            f"{label} is older than FFmpeg {floor}, the oldest release shotline supports; "
            "unset SHOTLINE_FFMPEG to use the FFmpeg of the imageio-ffmpeg wheel"
        )
    for kind, names in _available(binary.path).items():
        for feature in (f for f in REQUIRED if f.kind == kind and f.name not in names):
            raise FFmpegUnsupportedError(
                f"{label} lacks the {feature.kind} '{feature.name}' (used for {feature.used_for}); "
                f"shotline needs FFmpeg {floor} or newer built with it; unset SHOTLINE_FFMPEG to "
                "use the FFmpeg of the imageio-ffmpeg wheel"
            )


def _wheel_ffmpeg() -> str:
    folder = resources.files("imageio_ffmpeg.binaries")
    found = sorted(
        str(entry)
        for entry in folder.iterdir()
        if entry.name.startswith("ffmpeg-") and entry.is_file()
    )
    if not found:
        raise FFmpegUnsupportedError(
            "the imageio-ffmpeg wheel installed for this platform carries no FFmpeg binary; "
            f"set SHOTLINE_FFMPEG to an FFmpeg {'.'.join(map(str, MIN_RELEASE))} or newer"
        )
    return found[-1]


def _resolve(configured: str) -> str:
    path = shutil.which(configured)
    if path is None:
        raise FFmpegUnsupportedError(
            f"SHOTLINE_FFMPEG={configured} is not an executable file or a command on PATH"
        )
    return str(Path(path).resolve())


@cache
def _version_line(path: str) -> str:
    lines = _ask(path, "-version").splitlines()
    return lines[0].strip() if lines else ""


def _available(path: str) -> dict[Kind, set[str]]:
    """Names listed by ``-filters``/``-encoders``/``-muxers`` (second column of each line)."""
    names: dict[Kind, set[str]] = {}
    for kind, flag in _LIST_FLAG.items():
        columns = [
            line.split()[1] for line in _ask(path, flag).splitlines() if len(line.split()) > 1
        ]
        names[kind] = {name for column in columns for name in column.split(",")}  # "mov,mp4,..."
    return names


def _ask(path: str, flag: str) -> str:
    try:
        done = subprocess.run(
            [path, "-hide_banner", flag], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FFmpegUnsupportedError(f"FFmpeg at {path} could not run {flag}: {exc}") from exc
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip()[-300:]
        raise FFmpegUnsupportedError(f"FFmpeg at {path} failed on {flag}: {tail}")
    return done.stdout.decode("utf-8", "replace")
