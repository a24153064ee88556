"""``shotline stitch``: clips (or a stored edit plan) to one verified MP4."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from foundation.errors import InvalidInputError, Problem, ShotlineError
from shotline.console import fail_with
from shotline.paths import writable_video

if TYPE_CHECKING:
    from rich.table import Table

    from foundation.storyboard import Transition
    from foundation.variants import Variant
    from stitching import OutputProfile, StitchResult


def _clips(paths: list[Path], transition: Transition) -> list[tuple[str, Path, Transition, float]]:
    from foundation.storyboard import Transition
    from media.probe import probe_guarded, truncation

    problems, clips = [], []
    for index, path in enumerate(paths):
        info, why = probe_guarded(path)  # a clip its header refuses is not decoded
        why = why or info.error or (None if info.has_video else "no video stream")
        why = why or truncation(info)
        if why is not None:
            problems.append(Problem(f"CLIP[{index}]", f"{path}: {why}"))
            continue
        into = transition if index else Transition.parse("cut")
        seconds = info.video_duration_s or info.duration_s
        clips.append((f"{index + 1:02d}-{path.stem}"[:64], path, into, seconds))
    if problems:
        raise InvalidInputError("some clips cannot be stitched", problems)
    return clips


OPTION_OF = {"size": "--size", "fps": "--fps", "loudness_lufs": "--loudness"}


def _profile(size: str, fps: float, loudness: float) -> OutputProfile:
    """The output as a storyboard's ``output`` would be checked (``OutputSpec``: the same sizes,
    rates and reachable loudness), each problem named by its option."""
    from pydantic import ValidationError

    from foundation.output import OutputSpec
    from stitching import OutputProfile

    try:
        out = OutputSpec(size=size, fps=fps, loudness_lufs=loudness)
    except ValidationError as exc:
        problems = [
            Problem(OPTION_OF.get(str(error["loc"][0]), "--size"), error["msg"])
            for error in exc.errors()
        ]
        raise InvalidInputError("bad output settings", problems) from None
    return OutputProfile.from_output_spec(out)


def _table(result: StitchResult) -> Table:
    from rich.markup import escape
    from rich.table import Table

    checks = result.verification["checks"]
    edit = ", ".join(path.name for path in result.edit_files.values())
    table = Table(
        title=escape(f"{result.path}  ({result.plan.total_frames} frames, {result.video_path})"),
        caption=escape(f"edit: {edit}") if edit else None,
    )
    for column in ("check", "result", "measured"):
        table.add_column(column)
    for name, check in checks.items():
        numbers = ", ".join(f"{k}={v}" for k, v in check.items() if k not in ("passed", "joins"))
        mark = "[green]pass[/]" if check["passed"] else "[red]FAIL[/]"
        table.add_row(name, mark, numbers[:90])
    return table


def _payload(result: StitchResult) -> dict[str, Any]:
    return {
        "output": str(result.path),
        "plan": result.plan.to_dict(),
        "verification": result.verification,
        "poster": str(result.poster),
        "contact_sheet": str(result.contact_sheet),
        "hls": str(result.hls) if result.hls else None,
        "edit": {fmt: str(path) for fmt, path in result.edit_files.items()},
        "timings": result.timings,
    }


def _variants(texts: list[str], width: int, height: int) -> list[Variant]:
    from foundation.variants import resolve, variant_problems

    problems = [
        Problem(p.path.replace("output.variants", "--variant"), p.message)
        for p in variant_problems(texts, width, height)
    ]
    if problems:
        raise InvalidInputError("bad --variant", problems)
    return [resolve(text, width, height) for text in texts]


def _with_variants(
    result: StitchResult, variants: list[Variant], work: Path
) -> tuple[StitchResult, dict[str, StitchResult]]:
    """``result`` and, for each variant, the same edit reframed (``OUT.9x16.mp4``...), assembled
    and verified from the normalised segments in ``work``."""
    if not variants:
        return result, {}
    from stitching.reframe import deliver_variants

    return result, deliver_variants(result.plan, result.path, variants, work, main=result)


def _run(
    clips: list[Path], plan: Path | None, output: Path, settings: dict[str, Any]
) -> tuple[StitchResult, dict[str, StitchResult]]:
    from foundation.documents import read_document_file
    from foundation.storyboard import Transition
    from stitching import Captions, EditPlan, assemble, stitch

    texts: list[str] = settings["variants"]
    if plan is not None:
        if clips:
            raise InvalidInputError(
                "give either CLIP... or --plan", [Problem("--plan", "not both")]
            )
        text = read_document_file(plan, "--plan")
        captions = Captions.from_plan(_plan_data(text, plan))
        edit = EditPlan.from_json(text)
        variants = _variants(texts, edit.profile.width, edit.profile.height)  # before any work
        result = assemble(edit, output, hls=settings["hls"], captions=captions)
        with tempfile.TemporaryDirectory(dir=output.parent, prefix=f".{output.stem}.") as scratch:
            return _with_variants(result, variants, Path(scratch))
    if not clips:
        raise InvalidInputError("nothing to stitch", [Problem("CLIP", "give at least one clip")])
    try:
        transition = Transition.parse(settings["transition"])
    except ValueError as exc:
        raise InvalidInputError("bad transition", [Problem("--transition", str(exc))]) from None
    profile = _profile(settings["size"], settings["fps"], settings["loudness"])
    variants = _variants(texts, profile.width, profile.height)  # refused before any work
    items = _clips(clips, transition)
    if settings["keep"]:
        work = output.with_name(f"{output.stem}.segments")
        try:
            made = stitch(items, profile, output, work, hls=settings["hls"])
        except ShotlineError:
            with contextlib.suppress(OSError):
                work.rmdir()  # a refusal leaves no empty folder; made segments stay
            raise
        return _with_variants(made, variants, work)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=f".{output.stem}.") as scratch:
        made = stitch(items, profile, output, Path(scratch), hls=settings["hls"])
        return _with_variants(made, variants, Path(scratch))


def _plan_data(text: str, plan: Path) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(f"{plan}: not JSON", [Problem("--plan", str(exc))]) from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{plan}: not an edit plan", [Problem("--plan", "not an object")])
    return data


def register(app: typer.Typer) -> None:
    @app.command("stitch")
    def stitch_command(
        output: Annotated[Path, typer.Option("-o", "--output", help="the MP4 to write")],
        clips: Annotated[
            list[Path] | None, typer.Argument(help="clips in timeline order", metavar="CLIP")
        ] = None,
        size: Annotated[str, typer.Option(help="output WIDTHxHEIGHT")] = "1280x720",
        fps: Annotated[float, typer.Option(help="output frame rate")] = 24.0,
        transition: Annotated[
            str, typer.Option(help="cut | crossfade:S | fade:S | wipe:S between clips")
        ] = "cut",
        loudness: Annotated[float, typer.Option(help="integrated loudness target, LUFS")] = -16.0,
        plan: Annotated[Path | None, typer.Option(help="assemble a stored PLAN.json")] = None,
        hls: Annotated[bool, typer.Option("--hls", help="also write an HLS rendition")] = False,
        keep: Annotated[
            bool,
            typer.Option(
                "--keep-segments",
                help="keep normalised segments in OUT.segments/ (needed to re-run --plan later)",
            ),
        ] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="print plan and verification")
        ] = False,
        variant: Annotated[
            list[str] | None,
            typer.Option(
                "--variant",
                metavar="W:H|WxH",
                help="also deliver this aspect (9:16) or size (1080x1920), reframed; repeatable",
            ),
        ] = None,
        force: Annotated[bool, typer.Option(help="write over an existing -o file")] = False,
    ) -> None:
        """Stitch clips into one verified MP4 (frame-exact, loudness-normalised, stream-copied)."""
        from shotline.terminal import terminal

        console = terminal()
        settings = {"size": size, "fps": fps, "transition": transition, "loudness": loudness}
        settings |= {"hls": hls, "keep": keep, "variants": list(variant or [])}
        try:
            writable_video(output, "--output")
            if output.exists() and not force:  # its variants and segments would stay, stale
                raise InvalidInputError(
                    f"{output} already exists; nothing was stitched",
                    [
                        Problem(
                            "--output", "pass --force to overwrite it, or choose another -o path"
                        )
                    ],
                )
            output.parent.mkdir(parents=True, exist_ok=True)
            result, variants = _run(list(clips or []), plan, output, settings)
        except ShotlineError as exc:
            fail_with(exc, console, as_json)
        if as_json:
            extra = {label: _payload(found) for label, found in variants.items()}
            typer.echo(json.dumps(_payload(result) | {"variants": extra}, indent=2))
        else:
            console.print(_table(result))
            for found in variants.values():
                console.print(_table(found))
