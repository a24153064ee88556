"""``shotline models``: the model catalog as a table (or JSON)."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from foundation import clock
from foundation.errors import ShotlineError
from shotline.console import fail_with
from shotline.tables import Column, Fitted, fit_table, left_out_note, print_wide

if TYPE_CHECKING:
    from registry import Limits, ModelSpec, Registry

# by LifecycleStatus (a StrEnum: its members are these strings)
_STATUS_STYLE = {"active": "green", "deprecated": "yellow", "retired": "red", "upcoming": "cyan"}


def _sizes(spec: ModelSpec) -> str:
    if spec.sizes.any_size:
        return f"any ≤{spec.sizes.max_width}x{spec.sizes.max_height}"
    labels = list(dict.fromkeys(o.resolution for o in spec.sizes.options))
    return f"{'/'.join(labels)} {' '.join(spec.aspect_ratios)}"


def _inputs(spec: ModelSpec) -> str:
    parts = []
    if spec.inputs.text:
        parts.append("t2v")
    if spec.inputs.image:
        parts.append("i2v" + (" only" if spec.inputs.image_required else ""))
    if spec.inputs.first_last:
        parts.append("first/last")
    if spec.inputs.reference_images:
        parts.append(f"refs {spec.inputs.reference_images}")
    return ", ".join(parts)


def _rate(limits: Limits) -> str:
    if limits.window_s == 60:
        return f"{limits.rpm}/min"
    return f"{limits.rpm}/{limits.window_s:g} s"


def _lifecycle(spec: ModelSpec, today: date) -> str:
    from registry import LifecycleStatus

    status = spec.lifecycle.status(today)
    text = str(status)
    if spec.lifecycle.retired_on and status is not LifecycleStatus.RETIRED:
        text += f" (retires {spec.lifecycle.retired_on})"
    elif status is LifecycleStatus.RETIRED:
        text += f" {spec.lifecycle.retired_on}"
    elif status is LifecycleStatus.UPCOMING:
        text += f" {spec.lifecycle.available_from}"
    return f"[{_STATUS_STYLE[status]}]{text}[/]"


def _kind_row(spec: ModelSpec) -> tuple[str, str, str, str]:
    """durations, sizes, audio and inputs cells of a non-video model (its kind's capabilities)."""
    caps = spec.caps
    sizes = " ".join(caps.get("sizes") or caps.get("aspect_ratios") or []) or "-"
    if spec.kind == "llm":
        ctx = f"{caps['context_tokens'] // 1000}k ctx"
        return "-", ctx, "-", f"text→{caps['structured_output']}"
    if spec.kind == "image":
        if caps.get("any_size"):
            sizes = f"any ≤{caps['max_side']}px" if caps.get("max_side") else "any"
        refs = caps.get("reference_images")
        return "-", sizes, "-", "t2i" + (f", {refs} refs" if refs else "")
    if spec.kind == "tts":
        return "-", "-", ", ".join(caps["formats"][:3]), f"≤{caps['max_input_chars']} chars"
    return f"{caps['min_seconds']:g}-{caps['max_seconds']:g}s", "-", "music", "text"


COLUMNS = (
    Column("model"),
    Column("kind"),
    Column("vendor model", priority=9, fold_to=16),
    Column("tier", priority=1),
    Column("speed", priority=5),
    Column("durations", priority=3, fold_to=8),
    Column("sizes", priority=6, fold_to=14),
    Column("audio", priority=4, fold_to=9),
    Column("inputs", priority=7, fold_to=12),
    Column("seed", priority=8),
    Column("price", fold_to=18),
    Column("limits", priority=10, fold_to=10),
    Column("lifecycle", fold_to=10),
)
"""At 80 columns (and when piped): model, tier, kind, price and lifecycle, then whatever fits."""


def catalog_table(
    registry: Registry, today: date | None = None, width: int | None = None
) -> Fitted:
    day = today or clock.today()
    rows = []
    for spec in registry.models:
        if spec.usage_price is not None:
            durations, sizes, audio, inputs = _kind_row(spec)
            price = spec.usage_price.summary()
        else:
            audio = str(spec.audio) + (" +dialogue" if spec.dialogue else "")
            durations, sizes, inputs = spec.durations.describe(), _sizes(spec), _inputs(spec)
            price = (
                spec.price.summary(o.resolution for o in spec.sizes.options)
                if spec.sizes.options
                else spec.price.summary()
            )
        rows.append(
            [
                spec.id if spec.enabled else f"[dim]{spec.id} (disabled)[/]",
                str(spec.kind),
                spec.provider_model,
                str(spec.tier),
                str(spec.speed),
                durations,
                sizes,
                audio,
                inputs,
                "yes" if spec.seed or spec.caps.get("seed") else "no",
                price,
                f"{spec.limits.concurrency} at once, {_rate(spec.limits)}",
                _lifecycle(spec, day),
            ]
        )
    kinds: dict[str, int] = {}
    for spec in registry.models:
        kinds[str(spec.kind)] = kinds.get(str(spec.kind), 0) + 1
    by_kind = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
    title = f"model registry ({len(registry)} models: {by_kind})"
    return fit_table(COLUMNS, rows, width, title=title)


def catalog_json(registry: Registry, today: date | None = None) -> dict[str, Any]:
    day = today or clock.today()
    data = registry.to_dict()
    for entry, spec in zip(data["models"], registry.models, strict=True):
        entry["status"] = str(spec.lifecycle.status(day))
    return data


def register(app: typer.Typer) -> None:
    @app.command()
    def models(
        wide: Annotated[bool, typer.Option("--wide", help="every column, however narrow")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print the catalog as JSON")] = False,
    ) -> None:
        """List the model catalog: capabilities, prices with sources, lifecycle and limits."""
        from registry import load_registry
        from shotline.terminal import terminal

        console = terminal(stderr=as_json)
        try:
            registry = load_registry()
        except ShotlineError as exc:
            fail_with(exc, console, as_json)
        if as_json:
            typer.echo(json.dumps(catalog_json(registry), indent=2))
        elif wide:
            print_wide(catalog_table(registry).table)
        else:
            fitted = catalog_table(registry, width=console.width)
            console.print(fitted.table)
            note = left_out_note(fitted, console.width)
            if note:
                console.print(note)
