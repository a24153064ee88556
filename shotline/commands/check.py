"""``shotline check CLIP``: run the quality gate on one file.

Exit code 0 when the verdict is accept or repair, 1 for retry/escalate/give_up, 2 for unusable
arguments. Unspecified expectations (duration, size, fps) default to what the file measures.
``--prompt`` and ``--dialogue`` turn on the content checks (on-screen text, speech); image safety
(``SHOTLINE_IMAGE_SAFETY``) and image quality run on the sampled frames of every clip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, cast

import typer

from foundation.errors import InvalidInputError, Problem, ShotlineError
from shotline.console import fail_with

if TYPE_CHECKING:
    from rich.table import Table

    from quality.expectation import ClipExpectation
    from quality.gate import Verdict
    from quality.policy import GatePolicy

AUDIO_CHOICES = ("required", "none", "any")
_COLOURS = {
    "accept": "green",
    "repair": "cyan",
    "retry": "yellow",
    "escalate": "magenta",
    "give_up": "red",
}


@dataclass(frozen=True)
class ContentAsk:
    """What the shot's content should be: the prompt (quoted text must show on screen) and the
    spoken line (speech of about its length must be heard)."""

    prompt: str | None = None
    dialogue: str | None = None

    def speech(self, audio: str) -> Literal["required", "none", "any"]:
        if self.dialogue:
            return "required"
        return "none" if audio == "none" else "any"


def build_expectation(
    clip: Path,
    duration: float | None,
    size: str | None,
    fps: float | None,
    audio: str,
    tier: str,
    content: ContentAsk | None = None,
) -> ClipExpectation:
    from foundation.output import parse_size
    from media.files import not_a_file
    from media.probe import probe_guarded
    from quality.expectation import ClipExpectation

    problems = []
    if (missing := not_a_file(clip)) is not None:
        problems.append(Problem("CLIP", missing))
    if audio not in AUDIO_CHOICES:
        problems.append(Problem("--audio", f"{audio!r} is not one of {', '.join(AUDIO_CHOICES)}"))
    content = content or ContentAsk()
    if content.dialogue is not None and not content.dialogue.strip():
        problems.append(Problem("--dialogue", "must not be empty"))
    if content.dialogue and audio == "none":
        problems.append(Problem("--dialogue", "a spoken line needs audio, but --audio is none"))
    if duration is not None and duration <= 0:
        problems.append(Problem("--duration", "must be positive"))
    if fps is not None and fps <= 0:
        problems.append(Problem("--fps", "must be positive"))
    width = height = 0
    if size is not None:
        try:
            width, height = parse_size(size)
        except ValueError as exc:
            problems.append(Problem("--size", str(exc)))
    if problems:
        raise InvalidInputError("unusable arguments", problems)
    # a clip the gate refuses from its header (more pixels a frame than any output) is not decoded
    info, _ = probe_guarded(clip)
    measured_w, measured_h = info.display_size
    return ClipExpectation(
        duration_s=duration if duration is not None else (info.video_duration_s or info.duration_s),
        width=width or measured_w,
        height=height or measured_h,
        fps=fps if fps is not None else info.fps,
        audio="required" if content.dialogue else cast(Literal["required", "none", "any"], audio),
        tier=tier,
        prompt=content.prompt,
        dialogue=content.dialogue,
        speech=content.speech(audio),
    )


def verdict_table(verdict: Verdict, clip: Path) -> Table:
    from rich.markup import escape
    from rich.table import Table

    colour = _COLOURS[verdict.action]
    caption = f"verdict: [{colour}]{verdict.action}[/]  score {verdict.score:.2f}"
    caption += f" (local {verdict.local_score:.2f}"
    judge = verdict.judge_score
    caption += ")" if judge is None else f", judge {judge:.2f})"
    if verdict.repair:
        caption += f"  keep {verdict.repair[0]:.3f}-{verdict.repair[1]:.3f}s"
    if verdict.drivers:
        caption += "\n* the findings behind the verdict"  # the mark was not explained
    table = Table(title=escape(str(clip)), caption=caption)
    for column in ("code", "severity", "start", "end", "message"):
        table.add_column(column, justify="right" if column in ("start", "end") else "left")
    drivers = set(map(id, verdict.drivers))
    for finding in verdict.findings:
        mark = " *" if id(finding) in drivers else ""
        table.add_row(
            finding.code + mark,
            finding.severity,
            "" if finding.start is None else f"{finding.start:.3f}",
            "" if finding.end is None else f"{finding.end:.3f}",
            finding.message,
        )
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def check(
        clip: Annotated[Path, typer.Argument(help="video file to check")],
        duration: Annotated[float | None, typer.Option(help="requested duration, seconds")] = None,
        size: Annotated[str | None, typer.Option(help="requested size, WxH")] = None,
        fps: Annotated[float | None, typer.Option(help="requested frame rate")] = None,
        audio: Annotated[str, typer.Option(help="required | none | any")] = "any",
        tier: Annotated[str, typer.Option(help="quality tier of the policy")] = "standard",
        policy: Annotated[Path | None, typer.Option(help="gate policy YAML")] = None,
        prompt: Annotated[
            str | None,
            typer.Option(
                help='the shot\'s prompt: "quoted" text must be read on screen, none else'
            ),
        ] = None,
        dialogue: Annotated[
            str | None, typer.Option(help="the spoken line: speech of about its length is required")
        ] = None,
        judge: Annotated[
            bool,
            typer.Option(
                "--judge",
                help="also ask the VLM judge (SHOTLINE_GEMINI_API_KEY or SHOTLINE_OPENAI_API_KEY; "
                "billed by the provider): its score is shown beside the local one",
            ),
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print the verdict as JSON")] = False,
    ) -> None:
        """Run the quality gate on CLIP: events, scores and verdict (exit 0 accept/repair, 1 else,
        2 bad arguments)."""
        from foundation.settings import get_settings
        from quality import scoring
        from quality.gate import evaluate
        from quality.image_safety import frame_safety_from
        from quality.policy import default_policy, load_policy
        from shotline.terminal import terminal

        console = terminal(stderr=as_json)
        try:
            content = ContentAsk(prompt, dialogue)
            gate_policy: GatePolicy = load_policy(policy) if policy else default_policy()
            if tier not in gate_policy.tiers:  # was a note, and the default tier's verdict
                known = ", ".join(gate_policy.tiers)
                why = f"{tier!r} is not a tier of the policy ({known})"
                raise InvalidInputError("unusable arguments", [Problem("--tier", why)])
            expect = build_expectation(clip, duration, size, fps, audio, tier, content)
            scorer = scoring.judge_from_settings(get_settings()) if judge else None
            if judge and scorer is None:
                why = "set SHOTLINE_GEMINI_API_KEY or SHOTLINE_OPENAI_API_KEY"
                raise InvalidInputError("no judge is configured", [Problem("--judge", why)])
        except ShotlineError as exc:
            fail_with(exc, console, as_json)
        safety = frame_safety_from(get_settings())
        verdict = evaluate(clip, expect, policy=gate_policy, scorer=scorer, safety=safety)
        if as_json:
            typer.echo(json.dumps({"clip": str(clip), **verdict.to_dict()}, indent=2))
        else:
            console.print(verdict_table(verdict, clip))
            scores = ", ".join(f"{k} {v:.2f}" for k, v in verdict.scores.items())
            console.print(f"scores: {scores}", highlight=False, markup=False)
            for note in verdict.notes:
                console.print(f"note: {note}", highlight=False, markup=False)
        raise typer.Exit(0 if verdict.ok else 1)
