"""Repairs the gate can do without another generation: a frame-accurate trim by re-encoding."""

from __future__ import annotations

from pathlib import Path

from media.probe import probe
from media.runner import run_ffmpeg
from quality.errors import QualityError


def trim_args(path: Path, keep: tuple[float, float], out: Path, crf: int = 17) -> list[str]:
    """FFmpeg argv for a frame-accurate cut: input seeking with a re-encode decodes from the
    previous keyframe and drops frames before ``keep[0]``; ``-t`` ends the output at ``keep[1]``."""
    start, stop = keep
    if not 0 <= start < stop:
        raise QualityError(f"invalid keep range {keep}")
    return [
        "-ss",
        f"{start:.6f}",
        "-i",
        str(path),
        "-t",
        f"{stop - start:.6f}",
        "-map",
        "0:v:0",
        "-map",
        "0:a:0?",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        str(crf),
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "192k",
        "-movflags",
        "+faststart",
        str(out),
    ]


def trim(path: Path, keep: tuple[float, float], out: Path) -> Path:
    """Re-encode ``path`` keeping only ``keep`` into ``out``; raises ``FFmpegError``.

    ``keep`` is in seconds from the clip's first picture, as the gate measures; FFmpeg seeks in
    the file's time, which starts earlier when the audio starts before the picture."""
    lead = probe(path, read_rotation=False).video_lead_s
    out.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(trim_args(path, (keep[0] + lead, keep[1] + lead), out))
    return out
