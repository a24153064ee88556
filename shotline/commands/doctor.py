"""``shotline doctor``: what this installation runs with (FFmpeg, PyAV, Python, the local voice and
the database) and whether the providers it has keys for still work: key valid, routed models the
provider no longer lists (drift), rate tier or credits where the provider exposes them.

Exit 0 when everything it checks is usable, 1 otherwise (an unusable FFmpeg, a refused key,
drift). Spends nothing: only the providers' free account and catalog endpoints are called
(``adapters.doctor``). ``--providers emulated`` checks the emulator instead, ``local`` none.
"""

from __future__ import annotations

import json
import platform
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from foundation.errors import ShotlineError
from shotline.console import fail_with
from shotline.emulated import refuse_scenario_alone
from shotline.options import Providers

if TYPE_CHECKING:
    from foundation.settings import Settings
    from media.ffmpeg import FFmpegBinary


def _ffmpeg() -> dict[str, Any]:
    from media.errors import FFmpegUnsupportedError
    from media.ffmpeg import ffmpeg_binary

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
    from importlib.metadata import version

    from foundation.settings import get_settings

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
            "note": ""
            if voice
            else "espeak-ng absent: the local voice speaks lines with a marked placeholder voice",
        },
        "database": _database(settings),
        "asset_store": _asset_store(settings),
        "engine": _engine(settings),
        "disk": _disk(settings),
    }


LOW_DISK_BYTES = 1 << 30
"""Under this much free space doctor warns: a render stops when its disk fills (it resumes once
space is freed), and one final 1080p shot with its segment and sidecars takes tens of MB."""


def _size(count: int) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.1f} MiB"


def _disk(settings: Settings) -> dict[str, Any]:
    """Free space where shotline writes (the data folder, the asset folder); read only."""
    free: dict[str, str] = {}
    low = []
    for folder in settings.written_folders:
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        left = shutil.disk_usage(existing).free
        free[str(folder)] = _size(left) + " free"
        if left < LOW_DISK_BYTES:
            low.append(str(folder))
    where = ", ".join(low)
    note = f"under {_size(LOW_DISK_BYTES)} free at {where}: a render stops when its disk fills"
    return {"ok": True, **free, "note": note if low else ""}


def _database(settings: Settings) -> dict[str, Any]:
    """Whether the database opens and which revision it is at; read only (a missing embedded
    database is not made, nothing is migrated)."""
    from store.db import head_revisions, known_revisions, revisions, shown
    from store.errors import DatabaseUnusableError

    found: dict[str, Any] = {"engine": settings.engine, "url": shown(settings.db_url)}
    try:
        current, exists = revisions(settings.db_url)
    except DatabaseUnusableError as exc:
        return found | {"ok": False, "error": exc.message}
    unknown = current - known_revisions()
    if unknown:
        why = f"at revision {', '.join(sorted(unknown))}, which a newer shotline wrote"
        return found | {"ok": False, "error": f"the database is {why}"}
    if not exists:
        state = "not made yet: made at the newest revision on first use"
    elif current == head_revisions():
        state = "at the newest revision"
    else:
        state = "at an older revision: upgraded on first use"
    return found | {"ok": True, "revision": state}


def _asset_store(settings: Settings) -> dict[str, Any]:
    """The asset store, and for a bucket whether it answers (one ``HeadBucket``)."""
    from pipeline.assets import store_for

    where = settings.asset_store or str(settings.assets)
    try:
        store = store_for(settings)
        store.check()
    except ShotlineError as exc:
        said = [exc.message, *(str(problem) for problem in getattr(exc, "problems", []))]
        return {"ok": False, "store": where, "error": "; ".join(said)}
    kind = "S3-compatible bucket, answering" if store.remote else "local directory"
    return {"ok": True, "store": where, "kind": kind}


def _engine(settings: Settings) -> dict[str, Any]:
    """The engine; under Celery whether its broker answers and which workers consume its queues
    (a queue none consumes holds its jobs' steps: a note, as workers may not be started yet)."""
    if settings.engine != "celery":
        return {"ok": True, "engine": settings.engine}
    from pipeline.celery_app import BrokerUnavailableError, celery_for, check_broker, queue_name

    try:
        check_broker(settings)
    except BrokerUnavailableError as exc:
        return {"ok": False, "engine": "celery", "error": exc.message}
    seen = celery_for(settings).control.inspect(timeout=1.0).active_queues() or {}
    consumed = {queue["name"] for queues in seen.values() for queue in queues}
    idle = [
        q for q in (queue_name(settings, "io"), queue_name(settings, "cpu")) if q not in consumed
    ]
    return {
        "ok": True,
        "engine": "celery",
        "workers": ", ".join(sorted(seen)) or "none answering",
        "note": f"no worker consumes {', '.join(idle)}: their jobs wait" if idle else "",
    }


def _provider_urls(stack: ExitStack, settings: Settings, scenario: Path | None) -> dict[str, str]:
    """The emulator's per-provider base URLs: SHOTLINE_EMULATOR_URL's, else a new one's."""
    from emulators import start_emulator, urls_for

    if settings.emulator_url:
        providers, judges = urls_for(settings.emulator_url)
    else:
        handle = stack.enter_context(start_emulator(scenario))
        providers, judges = dict(handle.base_urls), dict(handle.judge_base_urls)
    return providers | {"gemini": judges["gemini"]}  # the Gemini API: its judge's base URL


def providers_check(choice: str, scenario: Path | None = None) -> dict[str, Any]:
    """The ``providers`` section: one report per hosted provider (``configured: false`` for those
    without a key), ``ok`` false on drift or a refused key."""
    from foundation.settings import get_settings
    from pipeline.provider_check import check_providers
    from registry import load_registry

    if choice == "local":
        return {"ok": True, "note": "no provider checked (--providers local)"}
    settings = get_settings()
    try:
        with ExitStack() as stack:
            urls = _provider_urls(stack, settings, scenario) if choice == "emulated" else None
            reports = check_providers(load_registry(settings.registry), settings, base_urls=urls)
    except ShotlineError as exc:
        return {"ok": False, "error": exc.message}
    found = {report.provider: report.to_dict() for report in reports}
    checked = [p for p, r in found.items() if r["configured"]]
    note = "" if checked else "no provider key set: nothing to check"
    return {"ok": all(r["ok"] for r in found.values()), "note": note, "providers": found}


def _provider_lines(report: dict[str, Any]) -> str:
    lines = []
    for name, found in report.get("providers", {}).items():
        if not found["configured"]:
            lines.append(f"{name}: no key")
            continue
        key = {True: "key valid", False: "KEY REFUSED", None: "key unproven"}[
            found.get("key_valid")
        ]
        parts = [key]
        if found.get("drift"):
            parts.append("DRIFT: " + ", ".join(f"{m} ({v})" for m, v in found["drift"].items()))
        if found.get("unchecked"):  # the provider offers no way to look these up
            parts.append("not listed, unchecked: " + ", ".join(found["unchecked"]))
        if found.get("error"):
            parts.append(str(found["error"]))
        lines.append(f"{name}: " + "; ".join(parts))
    return "\n".join(lines) or str(report.get("note") or report.get("error", ""))


def _summary(check: dict[str, Any]) -> str:
    if not check["ok"]:
        return str(check["error"])
    shown = {k: v for k, v in check.items() if k != "ok" and v}
    return "\n".join(f"{k}: {v}" for k, v in shown.items())


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
        providers: Providers = "auto",
        scenario: Annotated[Path | None, typer.Option(help="emulator scenario YAML")] = None,
    ) -> None:
        """Show which FFmpeg, PyAV and database this installation uses, and whether the providers
        whose keys are set still accept them and still serve the models shotline routes to."""
        from rich.table import Table

        from shotline.terminal import terminal

        try:
            refuse_scenario_alone(providers, scenario)
        except ShotlineError as exc:
            fail_with(exc, terminal(stderr=as_json), as_json)
        report = collect() | {"providers": providers_check(providers, scenario)}
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
                detail = _provider_lines(check) if name == "providers" else _summary(check)
                table.add_row(name, mark, detail)
            terminal().print(table)
        raise typer.Exit(0 if healthy else 1)
