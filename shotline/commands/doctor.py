"""``shotline doctor``: what this installation runs with (a first slice: FFmpeg, PyAV, Python, the
local voice and the database), so a user can see which FFmpeg is in use and whether it will do.

Exit 0 when everything it checks is usable, 1 otherwise. Spends nothing and calls no provider.
"""

from __future__ import annotations

import json
import platform
import shutil
from importlib.metadata import version
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from foundation.settings import get_settings
from media.errors import FFmpegUnsupportedError
from media.ffmpeg import FFmpegBinary, ffmpeg_binary


def _ffmpeg() -> dict[str, Any]:
    try:
        binary: FFmpegBinary = ffmpeg_binary()
    except FFmpegUnsupportedError as exc:
        return {"ok": False, "error": exc.message}
    system = shutil.which("ffmpeg")
    unused = system and binary.source != "SHOTLINE_FFMPEG"
    return {
        "ok": True,
        "version": binary.version,
        "source": binary.source,
        "path": binary.path,
        "system_ffmpeg_on_path": system,
        "note": "the system FFmpeg is not used unless SHOTLINE_FFMPEG names it" if unused else "",
    }


def _pyav() -> dict[str, Any]:
    import av

    libavcodec = ".".join(map(str, av.library_versions["libavcodec"]))
    return {"ok": True, "version": av.__version__, "libavcodec": libavcodec}


def collect() -> dict[str, Any]:
    """Every check as a dict with an ``ok`` flag."""
    settings = get_settings()
    voice = shutil.which("espeak-ng") or shutil.which("espeak")
    return {
        "shotline": {"ok": True, "version": version("shotline")},
        "python": {"ok": True, "version": platform.python_version()},
        "ffmpeg": _ffmpeg(),
        "pyav": _pyav(),
        "local_voice": {
            "ok": True,
            "path": voice,
            "note": "" if voice else "espeak-ng absent: the animatic marks dialogue with tones",
        },
        "database": {"ok": True, "engine": settings.engine, "url": settings.db_url.split("://")[0]},
    }


def _summary(check: dict[str, Any]) -> str:
    if not check["ok"]:
        return str(check["error"])
    shown = {k: v for k, v in check.items() if k != "ok" and v}
    return "\n".join(f"{k}: {v}" for k, v in shown.items())


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    ) -> None:
        """Show which FFmpeg, PyAV and database this installation uses, and whether they will do."""
        report = collect()
        healthy = all(check["ok"] for check in report.values())
        if as_json:
            typer.echo(json.dumps(report | {"ok": healthy}, indent=2))
        else:
            table = Table(title="shotline doctor", show_header=False, show_lines=True)
            table.add_column("check", no_wrap=True)
            table.add_column("ok", no_wrap=True)
            table.add_column("detail", overflow="fold")
            for name, check in report.items():
                mark = "[green]ok[/]" if check["ok"] else "[red]FAIL[/]"
                table.add_row(name, mark, _summary(check))
            Console().print(table)
        raise typer.Exit(0 if healthy else 1)
