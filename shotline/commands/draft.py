"""``shotline draft "BRIEF" -o storyboard.yaml``: a routed language model writes a storyboard.

The answer is checked by the storyboard validator and repaired (at most twice) from its problems;
the file written is one ``shotline plan`` and ``render`` accept. The cost is printed and booked.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from foundation.errors import InvalidInputError, Problem, ShotlineError
from shotline.console import fail_with
from shotline.emulated import refuse_scenario_alone
from shotline.options import DraftProviders

if TYPE_CHECKING:
    from pipeline.draft import DraftBrief

DRAFT_PROVIDERS = ("emulated", "auto", "live")


def register(app: typer.Typer) -> None:
    @app.command()
    def draft(
        brief: Annotated[str, typer.Argument(help="what the video is about, in plain words")],
        out: Annotated[Path, typer.Option("-o", "--out", help="storyboard file to write")],
        shots: Annotated[int | None, typer.Option(min=1, max=50, help="number of shots")] = None,
        duration: Annotated[
            float | None, typer.Option(min=1, max=60, help="seconds per shot")
        ] = None,
        style: Annotated[str | None, typer.Option(help="visual style for every prompt")] = None,
        providers: DraftProviders = "auto",
        scenario: Annotated[
            Path | None, typer.Option(help="emulator scenario (with --providers emulated)")
        ] = None,
        model: Annotated[
            str | None, typer.Option(help="llm model id (registry) to try first, e.g. gemini/...")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
        force: Annotated[bool, typer.Option(help="write over an existing --out file")] = False,
    ) -> None:
        """Draft a storyboard from a brief with a language model; write it as YAML."""
        from shotline.terminal import terminal

        console = terminal()
        try:
            refuse_scenario_alone(providers, scenario)
            request = _brief(brief, out, shots, duration, style, force=force)
            summary = _draft(request, out, providers, scenario, model)
        except ShotlineError as exc:
            fail_with(exc, console, as_json)
        if as_json:
            typer.echo(json.dumps({"storyboard": str(out), **summary}, indent=2))
            return
        rounds = len(summary["rounds"])
        console.print(
            f"wrote {out} with {summary['model']} in {rounds} answer(s); "
            f"cost ${summary['cost_usd']:.6f}"
            + (" (uncertain price)" if summary["cost_uncertain"] else "")
        )
        console.print(f"route: {summary['route']}")


def _brief(
    brief: str,
    out: Path,
    shots: int | None,
    duration: float | None,
    style: str | None,
    *,
    force: bool,
) -> DraftBrief:
    """What to draft, refused before any model is asked: a brief none can draft from, an output
    no run could write, or one that exists (without ``--force``: it replaced a hand-edited
    storyboard)."""
    from pipeline.draft import DraftBrief
    from shotline.paths import writable_output

    writable_output(out, "--out")
    request = DraftBrief(brief, shots, duration, style)
    if out.exists() and not force:
        raise InvalidInputError(
            f"{out} already exists; nothing was drafted",
            [Problem("--out", "pass --force to overwrite it, or choose another -o path")],
        )
    return request


def _draft(
    request: DraftBrief,
    out: Path,
    providers: str,
    scenario: Path | None,
    model: str | None = None,
) -> dict[str, Any]:
    import yaml

    from foundation.settings import get_settings
    from pipeline.draft import board_data
    from pipeline.draft_run import chat_clients, run_draft
    from registry import load_registry
    from shotline.emulated import emulator_urls

    settings = get_settings()
    registry = load_registry(settings.registry)
    with ExitStack() as stack:
        urls = (
            emulator_urls(settings.emulator_url, stack, scenario)[1]
            if providers == "emulated"
            else None
        )
        clients = chat_clients(settings, urls)
        if not clients:
            problem = Problem("--providers", "no chat key: set SHOTLINE_OPENAI_API_KEY or "
                              "SHOTLINE_GEMINI_API_KEY, or use --providers emulated")  # fmt: skip
            raise InvalidInputError("no language model provider is configured", [problem])
        if model is not None and model not in registry:
            raise InvalidInputError(
                "unknown model", [Problem("--model", f"{model!r} is not in the registry")]
            )
        result = run_draft(
            request, settings, registry, clients, emulated=urls is not None, pin=model
        )
    assert result.board is not None
    text = yaml.safe_dump(board_data(result.board), sort_keys=False, allow_unicode=True)
    out.write_text(text, encoding="utf-8")
    return result.to_dict()
