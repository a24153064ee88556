"""``shotline plan``: a dry run of routing over a storyboard. Nothing is paid for: the only
provider calls are free lookups (a named ElevenLabs voice id, ``pipeline.voice_check``).

Prints the model and fallbacks per shot, the expected cost range (with expected retakes), the
expected wall time and the budget headroom; shots no model can take are listed and exit with 2, and
a storyboard whose budget cannot pay its cheapest routing exits with 3, as `render` would refuse it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from foundation.errors import BudgetExceededError, ShotlineError
from foundation.modes import Mode
from shotline.console import fail_with
from shotline.options import Providers

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    import router


def build_plan(storyboard: Path, mode: Mode | None, providers: str) -> router.Plan:
    """The plan ``render`` would follow: the same router call, stats and breakers (``planning``)."""
    return _plan_and_note(storyboard, mode, providers).plan


Stages = dict[str, dict[str, Any]]
JOB_ROW = "(job)"  # the row of the stage the whole job has once (its music bed)


class Planned(NamedTuple):
    """What ``plan`` prints: the routing, its notes (local pins, shots a commit could not take to
    final), the variants, each stage's record
    (by shot: tts, keyframes; by character: sheets; the job's bed) and, when the storyboard's
    budget cannot pay its cheapest routing, the refusal ``render`` would exit with."""

    plan: router.Plan
    notes: list[str]
    variants: list[dict[str, Any]]
    stages: Stages
    drawn: Stages
    bed: dict[str, Any] | None
    sheeted: Stages
    refusal: BudgetExceededError | None


def _plan_and_note(storyboard: Path, mode: Mode | None, providers: str) -> Planned:
    from foundation.settings import get_settings
    from foundation.storyboard import load_storyboard
    from pipeline import planning, previews, voices
    from pipeline.context import RunContext
    from shotline.emulated import use_running_emulator
    from shotline.notes import notes

    board = load_storyboard(storyboard)
    ctx = RunContext.create(providers, get_settings())
    use_running_emulator(ctx)  # emulated: the free lookups go to a running emulator, if any
    mode = mode or board.mode
    plan = planning.route(ctx, board, mode)
    # on the caller's providers, as ``render`` says them; not what the plan's own error says
    said = notes(ctx, board, mode, [u.path for u in plan.unroutable])
    ctx = planning.stage_context(ctx, board, mode)
    keyframed = previews.keyframed_board(board, mode)  # a keyframes preview draws every keyframe
    routed = planning.plan_stages(ctx, keyframed, mode)
    refusal = planning.budget_refusal(ctx, board, plan, mode, routed)  # as job creation refuses
    board = keyframed
    stages = {shot: voices.stage_record(d) for shot, d in routed.voices.items()}
    drawn = {shot: voices.stage_record(d, "keyframe") for shot, d in routed.keyframes.items()}
    bed = voices.stage_record(routed.music, "music") if routed.music is not None else None
    sheeted = {who: voices.stage_record(d, "sheet") for who, d in routed.sheets.items()}
    from pipeline.variant_plan import variants_of

    return Planned(
        plan, said, variants_of(board, plan), stages, drawn, bed,
        sheeted, refusal,
    )  # fmt: skip


def stages_table(stages: Stages, title: str, owner: str = "shot") -> Table:
    """Each shot's stage before its video (its tts stage: the model that speaks its line; its
    keyframe stage: the image model that draws its first frame), or each character's sheet stage
    (``owner="character"``), the quote, the fallbacks."""
    from rich.table import Table

    table = Table(title=title)
    for column in (owner, "stage", "model", "quote", "fallbacks"):
        table.add_column(column, justify="right" if column == "quote" else "left", overflow="fold")
    for shot, stage in stages.items():
        quote = f"${stage['quote_usd']:.4f}" if stage["quote_usd"] is not None else ""
        table.add_row(
            shot, stage["stage"], stage["model"] or "[red]no model[/]", quote,
            ", ".join(stage["fallbacks"]),
        )  # fmt: skip
    return table


def print_variants(variants: list[dict[str, Any]], console: Console) -> None:
    """Per variant: its file, and how each shot gets it (reframed at $0 or rendered natively at
    its quote), with the reason."""
    from rich.markup import escape

    for item in variants:
        native = [c for c in item["choices"] if c["render"] == "native"]
        head = f"variant {item['variant']} -> {item['file']} ({item['size']}): "
        if not native:
            head += (
                f"every shot ({len(item['shots'])}) reframed from its clip, a {item['crop']} "
                "crop following the subject; no extra provider cost"
            )
        else:
            head += f"{len(native)} of {len(item['shots'])} shots rendered natively, "
            head += f"${item['extra_provider_usd']:.2f} extra; the others reframed ($0)"
        console.print(head, highlight=False)
        if item["render"] != "reframe":
            for c in item["choices"]:
                cost = f"+${c['extra_usd']:.2f}" if c["render"] == "native" else "$0"
                line = f"  {c['shot_id']}: {c['render']} {cost} ({escape(c['reason'])})"
                console.print(line, highlight=False)


def plan_table(result: router.Plan) -> Table:
    from rich.markup import escape
    from rich.table import Table

    shots = len(result.decisions)
    table = Table(title=f"{escape(result.title)}: {result.mode} plan ({shots} shots)")
    for column in ("shot", "type", "model", "quote", "expected", "adaptations", "fallbacks"):
        table.add_column(
            column, justify="right" if column in ("quote", "expected") else "left", overflow="fold"
        )
    for decision in result.decisions.values():
        shot_type = decision.need.shot_type + ("?" if decision.need.type_inferred else "")
        primary = decision.primary
        if primary is None:
            table.add_row(decision.shot_id, shot_type, "[red]no model[/]", "", "", "", "")
            continue
        model = primary.model_id
        if decision.continuity_break:
            model += " [yellow](continuity break)[/]"
        table.add_row(
            decision.shot_id,
            shot_type,
            model,
            f"${primary.quote_usd:.2f}",
            f"${primary.expected_cost_usd:.2f}",
            "\n".join(primary.adaptations),
            ", ".join(c.model_id for c in decision.candidates[1:]),
        )
    return table


def print_stage_tables(console: Console, stages: Stages, sheeted: Stages, drawn: Stages) -> None:
    """The stages before the videos: tts lines, character sheets, keyframes, each with its total."""
    if stages:
        console.print(stages_table(stages, f"tts stages ({len(stages)} voiced lines)"))
        total = sum(stage["quote_usd"] or 0.0 for stage in stages.values())
        console.print(f"tts: ${total:.4f} quoted for {len(stages)} voiced lines, on top")
    if sheeted:
        console.print(
            stages_table(
                sheeted,
                f"sheet stages ({len(sheeted)} character{'s' * (len(sheeted) != 1)})",
                "character",
            )
        )
        total = sum(stage["quote_usd"] or 0.0 for stage in sheeted.values())
        console.print(
            f"sheets: ${total:.4f} quoted for {len(sheeted)} character "
            f"sheet{'s' * (len(sheeted) != 1)}, on top"
        )
    if drawn:
        console.print(stages_table(drawn, f"keyframe stages ({len(drawn)} keyframes)"))
        total = sum(stage["quote_usd"] or 0.0 for stage in drawn.values())
        console.print(f"keyframes: ${total:.4f} quoted for {len(drawn)} keyframes, on top")


def print_forecast(result: router.Plan, console: Console) -> None:
    f = result.forecast
    console.print(
        f"cost: ${f.cost_low_usd:.2f} if every shot passes first time, "
        f"${f.cost_expected_usd:.2f} expected with retakes, "
        f"${f.cost_high_usd:.2f} at 95% confidence"
    )
    console.print(
        f"expected wall time: {f.wall_time_s / 60:.1f} min ({f.wall_time_s:.0f} s), "
        f"up to {f.wall_time_high_s / 60:.1f} min at p95 render times"
    )
    if f.budget_usd is not None and f.headroom_usd is not None:
        from foundation.money import cents

        style = "green" if f.headroom_usd >= 0 else "red"
        console.print(
            f"budget {cents(f.budget_usd)}: headroom [{style}]{cents(f.headroom_usd)}[/] expected, "
            f"{cents(f.worst_case_headroom_usd or 0.0)} worst case"
        )
    console.print(f"providers: {', '.join(sorted(result.providers)) or 'none'}")


def print_total(result: router.Plan, stages: list[dict[str, Any]], console: Console) -> None:
    """Every stage's first-time quote together, as admission counts it against the budget
    (``variant_plan.first_time_usd``): the videos', the other stages' (keyframes, voices, the music
    bed; a keyframes preview pays no video, only those) and the native variant renders'."""
    from pipeline import variant_plan

    before = sum(stage["quote_usd"] or 0.0 for stage in stages)
    total = variant_plan.first_time_usd(result, before)
    videos, native = variant_plan.cheapest_usd(result), variant_plan.native_usd(result)
    parts = f"videos ${videos:.4f}, other stages ${before:.4f}"
    parts += f", native variants ${native:.4f}" if native else ""
    console.print(f"total: ${total:.4f} quoted ({parts})")


def print_explanations(result: router.Plan, console: Console) -> None:
    for decision in result.decisions.values():
        info = decision.explanation
        console.print(f"\n[bold]{decision.shot_id}[/]: {info['summary']}", highlight=False)
        if decision.continuity_reason:
            console.print(f"  continuity: {decision.continuity_reason}", highlight=False)
        for item in info["fallbacks"]:
            console.print(f"  {item['model']}: {item['why_lower']}", highlight=False)
        for model, reason in info["ranked_out"].items():
            console.print(f"  {model}: {reason}", highlight=False)
        for reason, models in info["rejected"].items():
            console.print(f"  [dim]rejected: {reason} ({', '.join(models)})[/]", highlight=False)


def print_json(planned: Planned) -> None:
    """The plan as JSON on stdout; exit 2 when a shot is unroutable, 3 when the budget is refused."""
    result, refusal = planned.plan, planned.refusal
    data = result.to_dict() | {
        "variants": planned.variants, "stages": planned.stages, "sheets": planned.sheeted,
        "keyframes": planned.drawn, "music": planned.bed,
        "budget_refused": refusal.message if refusal else None, "notes": planned.notes,
    }  # fmt: skip
    typer.echo(json.dumps(data, indent=2))
    if result.unroutable:
        raise typer.Exit(2)
    if refusal is not None:
        raise typer.Exit(refusal.exit_code)


def print_text(planned: Planned, console: Console, *, explain: bool) -> None:
    """The plan's tables, forecast, variants, long shots and note (and, with ``explain``, every
    decision's reasons)."""
    from rich.markup import escape

    result, stages, drawn, bed, sheeted = (
        planned.plan, planned.stages, planned.drawn, planned.bed, planned.sheeted,
    )  # fmt: skip
    console.print(plan_table(result))
    print_stage_tables(console, stages, sheeted, drawn)
    if bed is not None:
        console.print(stages_table({JOB_ROW: bed}, "music stage (one bed for the programme)"))
    print_forecast(result, console)
    extra = [*stages.values(), *sheeted.values(), *drawn.values(), *([bed] if bed else [])]
    if extra or any(choice.render == "native" for choice in result.variants):
        print_total(result, extra, console)
    print_variants(planned.variants, console)
    for split in result.long_shots:
        console.print(f"long shot {split.shot_id!r}: {escape(split.explain())}", highlight=False)
        for part, operation, seconds in split.parts:
            chosen = result.decisions[part].primary if part in result.decisions else None
            quote = f"{chosen.model_id} ${chosen.quote_usd:.2f}" if chosen else "unroutable"
            console.print(f"  {part}: {operation} {seconds:g}s, {quote}", highlight=False)
    for note in planned.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    if explain:
        print_explanations(result, console)
        owned = [
            *stages.items(),
            *sheeted.items(),
            *drawn.items(),
            *([(JOB_ROW, bed)] if bed else []),
        ]
        for shot, stage in owned:
            console.print(f"\n[bold]{shot}[/] ({stage['stage']}): {escape(stage['explanation'])}")
            for model, why in stage["rejected"].items():
                reasons = escape(", ".join(why))
                console.print(f"  [dim]rejected: {model}: {reasons}[/]", highlight=False)


def register(app: typer.Typer) -> None:
    @app.command()
    def plan(
        storyboard: Annotated[Path, typer.Argument(help="storyboard YAML or JSON")],
        mode: Annotated[
            Mode | None, typer.Option(help="preview or final (default: storyboard)")
        ] = None,
        providers: Providers = "auto",
        explain: Annotated[bool, typer.Option(help="explain every decision")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print the plan as JSON")] = False,
    ) -> None:
        """Dry-run routing: model and fallbacks per shot, cost range, wall time, budget."""
        import router
        from shotline.terminal import terminal

        console = terminal(stderr=as_json)
        try:
            planned = _plan_and_note(storyboard, mode, providers)
        except ShotlineError as exc:
            fail_with(exc, console, as_json)
        if as_json:
            print_json(planned)
            return
        print_text(planned, console, explain=explain)
        try:
            router.raise_if_unroutable(planned.plan)
        except ShotlineError as exc:
            fail_with(exc, console, as_json)
        if planned.refusal is not None:  # what ``render`` would refuse before spending (exit 3)
            fail_with(planned.refusal, console, as_json)
