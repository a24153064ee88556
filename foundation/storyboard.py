"""The storyboard: what a user submits. Loaded from YAML or JSON and validated before any spend.

Every problem is reported at once, each with its path
(``scenes[1].shots[0].duration: must be > 0``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from foundation import limits as lim
from foundation.captions import dialogue_problems, pace_problem
from foundation.characters import (
    Character,
    character_problems,
    compose_prompt,
    featured_references,
)
from foundation.documents import parse_document, read_document_file
from foundation.errors import InvalidInputError, Problem
from foundation.keyframes import (
    KEYFRAME_FIELDS,
    keyframe_path_is_first_frame,
    keyframe_problem,
    spec_keyframe,
)
from foundation.limits import Limits
from foundation.modes import Mode as Mode  # re-exported: the storyboard names its mode
from foundation.money import MAX_BUDGET_USD
from foundation.music import MusicSpec
from foundation.output import OutputSpec as OutputSpec  # re-exported: the board's `output`
from foundation.previews import PreviewSpec as PreviewSpec  # re-exported: the board's `preview`
from foundation.strict import Strict as _Strict
from foundation.timeline import exact_rate, frames_for, join_problem, transition_frames
from foundation.transition import Transition as Transition  # re-exported: shots name theirs
from foundation.validation import nul_problems, problems_from
from foundation.variants import (
    shots_problems,
    variant_problems,
)


class StoryboardError(InvalidInputError):
    """The storyboard cannot be used; nothing has been rendered or written."""


class ShotType(StrEnum):
    ESTABLISHING = "establishing"
    DIALOGUE = "dialogue"
    ACTION = "action"
    PRODUCT = "product"
    BROLL = "broll"


class AudioNeed(StrEnum):
    NONE = "none"
    AMBIENT = "ambient"
    DIALOGUE = "dialogue"


class Shot(_Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    prompt: str
    duration: float
    type: ShotType | None = None
    audio: AudioNeed = AudioNeed.NONE
    dialogue: str | None = None
    transition: str = "cut"
    model: str | None = None
    reference_image: str | None = None
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    negative_prompt: str | None = None
    continues: bool = Field(
        default=False, description="start from the previous shot's last frame (waits for it)"
    )
    extends: bool = Field(
        default=False,
        description="with continues: the previous shot's clip is extended by the provider's own "
        "extend operation (the planner sets it on a long shot's parts; the model is pinned)",
    )
    characters: list[str] = Field(
        default_factory=list, max_length=8, description="ids of the storyboard's characters in it"
    )
    speaker: str | None = Field(default=None, description="the character who says `dialogue`")
    keyframe: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        description="generate | none | a path (the first frame); default: generate when the shot "
        "has characters (and no reference_image, and does not continue), else none",
    )

    _keyframe_path = model_validator(mode="before")(keyframe_path_is_first_frame)

    @property
    def draws_keyframe(self) -> bool:
        """Whether a keyframe stage draws this shot's first frame (``spec_keyframe``)."""
        return spec_keyframe(self.model_dump(include=set(KEYFRAME_FIELDS)))

    @field_validator("prompt")
    @classmethod
    def _prompt_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("duration")
    @classmethod
    def _positive_duration(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be > 0")
        if value < lim.MIN_SHOT_S:
            raise ValueError(
                f"must be at least {lim.MIN_SHOT_S:g} seconds (the shortest shot the quality gate "
                "and the stitcher can use)"
            )
        if value > lim.MAX_SHOT_S:
            raise ValueError(f"must be at most {lim.MAX_SHOT_S:g} seconds")
        return value

    @field_validator("transition")
    @classmethod
    def _valid_transition(cls, value: str) -> str:
        return str(Transition.parse(value))

    @model_validator(mode="after")
    def _dialogue_needs_text(self) -> Self:
        if self.audio is AudioNeed.DIALOGUE and not (self.dialogue or "").strip():
            raise ValueError("audio: dialogue needs a `dialogue` text")
        return self

    @property
    def transition_in(self) -> Transition:
        return Transition.parse(self.transition)


class Scene(_Strict):
    id: str = Field(min_length=1, max_length=64)
    shots: list[Shot] = Field(min_length=1)


class CaptionsSpec(_Strict):
    """Captions: ``OUT.srt`` and ``OUT.vtt`` are always written beside the output; ``burn_in``
    also draws them into the picture."""

    burn_in: bool = Field(default=False, strict=True)


class Storyboard(_Strict):
    title: str = Field(min_length=1)
    output: OutputSpec = OutputSpec()
    mode: Mode = Mode.PREVIEW
    preview: PreviewSpec = PreviewSpec()
    budget_usd: float | None = Field(default=None, ge=0, le=MAX_BUDGET_USD)
    consistency: Literal["report", "rerender"] = "report"
    captions: CaptionsSpec = CaptionsSpec()
    music: MusicSpec | None = None
    style: str | None = Field(default=None, min_length=1, max_length=500)
    characters: list[Character] = Field(default_factory=list, max_length=50)
    scenes: list[Scene] = Field(min_length=1)

    def shots(self) -> list[tuple[Scene, Shot]]:
        return [(scene, shot) for scene in self.scenes for shot in scene.shots]

    def shot_paths(self) -> list[tuple[str, Shot]]:
        """Every shot with its path in the document (``scenes[0].shots[1]``)."""
        return [
            (f"scenes[{s_index}].shots[{k_index}]", shot)
            for s_index, scene in enumerate(self.scenes)
            for k_index, shot in enumerate(scene.shots)
        ]

    @property
    def shots_s(self) -> float:
        """The shots' seconds added up (transitions' overlaps not taken off)."""
        return sum(shot.duration for _, shot in self.shots())

    def prompt_for(self, shot: Shot) -> str:
        """The prompt a model is sent for ``shot`` (``foundation.characters.compose_prompt``)."""
        described = {c.id: c.description for c in self.characters}
        featured = [(cid, described[cid]) for cid in shot.characters if cid in described]
        return compose_prompt(shot.prompt, featured, self.style)

    def voice_for(self, shot: Shot) -> str | None:
        """The voice of ``shot``'s speaker when it has a line (a tts stage speaks it), else None."""
        if not shot.speaker or not (shot.dialogue or "").strip():
            return None
        return next((c.voice for c in self.characters if c.id == shot.speaker), None)

    def references_for(self, shot: Shot) -> list[str]:
        """The reference images of the characters ``shot`` features, in its order, each once."""
        images = {c.id: c.reference_images for c in self.characters}
        return featured_references(images, shot.characters)

    def planned_seconds(self) -> float:
        """Timeline length: shot durations minus the overlaps of the transitions between them."""
        total = 0.0
        for index, (_, shot) in enumerate(self.shots()):
            total += shot.duration
            if index > 0:
                total -= shot.transition_in.seconds
        return total


def _continue_problem(path: str, shot: Shot, previous: Shot | None) -> Problem | None:
    first = previous is None
    if shot.extends and not shot.continues:
        return Problem(f"{path}.extends", "cannot extend: it needs continues: true")
    if shot.extends and (shot.model is None or (previous and previous.model != shot.model)):
        why = "pin one model (`model`) on it and on the shot it extends: the extend operation"
        return Problem(f"{path}.extends", f"cannot extend: {why} is that model's own")
    if not shot.continues or not (first or shot.reference_image):
        return None
    why = "the first shot has no previous shot" if first else "it has its own reference_image"
    return Problem(f"{path}.continues", f"cannot continue: {why}")


def frame_problems(board: Storyboard) -> list[Problem]:
    """What the stitcher would refuse after the spend: too few frames, transitions that do not
    fit their shots (``join_problem``, the stitcher's own rule)."""
    problems: list[Problem] = []
    rate = exact_rate(board.output.fps)
    previous_frames = head = 0
    for index, (path, shot) in enumerate(board.shot_paths()):
        frames = frames_for(shot.duration, rate)
        if frames < lim.MIN_SHOT_FRAMES:
            problems.append(
                Problem(
                    f"{path}.duration",
                    f"{shot.duration:g}s is {frames} frames at {board.output.fps:g} fps; "
                    f"a shot needs at least {lim.MIN_SHOT_FRAMES} frames",
                )
            )
        into = shot.transition_in
        overlap = transition_frames(into.kind, into.seconds, rate)
        problem = join_problem(index, str(into), overlap, head, previous_frames, frames)
        if problem is None and index > 0 and overlap >= previous_frames:
            problem = f"{into} ({overlap} frames) is not shorter than the previous shot"
        if problem:
            problems.append(Problem(f"{path}.transition", problem))
            overlap = 0  # reported once: not again as the next join's problem
        previous_frames, head = frames, overlap
    return problems


def _unsayable_lines(board: Storyboard, paths: list[tuple[str, Shot]]) -> list[Problem]:
    """The lines the video model is to speak (``audio: dialogue``, no speaker's voice) that no
    model can say within their shot; a voiced line's fit is planning's (``pipeline.voices``)."""
    problems = []
    for path, shot in paths:
        if shot.audio is not AudioNeed.DIALOGUE or board.voice_for(shot) is not None:
            continue
        why = pace_problem(shot.dialogue or "", shot.duration)
        if why:
            problems.append(Problem(f"{path}.dialogue", why))
    return problems


def _timeline_problems(board: Storyboard, limits: Limits) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    previous: Shot | None = None
    paths = board.shot_paths()
    for path, shot in paths:
        if shot.id in seen:
            message = f"duplicate shot id {shot.id!r} (also at {seen[shot.id]})"
            problems.append(Problem(f"{path}.id", message))
        seen.setdefault(shot.id, path)
        problem = _continue_problem(path, shot, previous)
        if problem:
            problems.append(problem)
        previous = shot
    problems += frame_problems(board)
    problems += character_problems(board.characters, paths)
    problems += [p for path, shot in paths if (p := keyframe_problem(path, shot))]
    problems += dialogue_problems(paths, board.captions.burn_in)
    problems += _unsayable_lines(board, paths)
    out = board.output
    problems += variant_problems(out.variant_texts(), out.width, out.height)
    problems += shots_problems(out.variants, [shot.id for _, shot in board.shots()])
    total = board.shots_s
    if total > limits.max_total_duration_s:
        message = (
            f"the shots last {total:g}s in all, more than the limit of "
            f"{limits.max_total_duration_s:g}s (SHOTLINE_MAX_TOTAL_DURATION_S)"
        )
        problems.append(Problem("scenes", message))
    return problems


def _count_shots(data: dict[str, Any]) -> int:
    scenes = data.get("scenes")
    if not isinstance(scenes, list):
        return 0
    return sum(
        len(scene["shots"])
        for scene in scenes
        if isinstance(scene, dict) and isinstance(scene.get("shots"), list)
    )


def parse_storyboard(
    data: Any, source: str = "storyboard", limits: Limits | None = None
) -> Storyboard:
    """Validate already-parsed data; raise ``StoryboardError`` listing every problem.

    ``limits`` defaults to the settings (``SHOTLINE_MAX_SHOTS``, ``SHOTLINE_MAX_TOTAL_DURATION_S``).
    """
    if data is None:  # an empty file, or one of comments only
        why = "the document is empty: a storyboard has a title and scenes"
        raise StoryboardError(f"{source}: is empty", [Problem("", why)])
    if not isinstance(data, dict):
        raise StoryboardError(
            f"{source}: must be a mapping", [Problem("", "top level must be a mapping")]
        )
    limits = limits or Limits.from_settings()
    count = _count_shots(data)
    if count > limits.max_shots:  # refused before validating thousands of shots
        message = f"{count} shots, more than the limit of {limits.max_shots} (SHOTLINE_MAX_SHOTS)"
        raise StoryboardError(f"{source} is too large", [Problem("scenes", message)])
    stored = nul_problems(data)  # reported with the rest: the job's row could not hold them
    try:
        board = Storyboard.model_validate(data)
    except ValidationError as exc:
        problems = stored + problems_from(exc, Storyboard)
        raise StoryboardError(f"{source} is invalid", problems) from None
    problems = stored + _timeline_problems(board, limits)
    if problems:
        raise StoryboardError(f"{source} is invalid", problems)
    return board


def parse_storyboard_text(
    text: str, source: str = "storyboard", limits: Limits | None = None
) -> Storyboard:
    """Parse YAML (a superset of JSON) text within the document budget, and validate it."""
    limits = limits or Limits.from_settings()
    try:
        data = parse_document(text, limits, source)
    except InvalidInputError as exc:
        raise StoryboardError(f"{source} is not valid YAML or JSON", exc.problems) from None
    return parse_storyboard(data, source, limits)


def load_storyboard(path: Path) -> Storyboard:
    """Read a storyboard file (YAML or JSON; ``read_document_file``'s bounds)."""
    return parse_storyboard_text(read_document_file(path, error=StoryboardError), str(path))
