"""The storyboard: what a user submits. Loaded from YAML or JSON and validated before any spend.

Every problem is reported at once, each with its path
(``scenes[1].shots[0].duration: must be > 0``).
"""

from __future__ import annotations

import difflib
import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shotline.errors import InvalidInputError, Problem

_SIZE_RE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
_TRANSITION_RE = re.compile(r"^(cut|crossfade|fade|wipe)(?::(\d+(?:\.\d+)?))?$")


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


class Mode(StrEnum):
    PREVIEW = "preview"
    FINAL = "final"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_size(value: str) -> tuple[int, int]:
    """``"1280x720"`` -> ``(1280, 720)``; both sides even and at least 16."""
    match = _SIZE_RE.match(value.strip().lower())
    if not match:
        raise ValueError(f"size {value!r} is not WIDTHxHEIGHT, e.g. 1280x720")
    width, height = int(match[1]), int(match[2])
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise ValueError(f"size {value!r} needs even sides of at least 16 pixels")
    return width, height


class Transition(_Strict):
    """Transition into a shot; ``crossfade`` and ``fade`` (via black) overlap the previous one."""

    kind: str = "cut"
    seconds: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Transition:
        match = _TRANSITION_RE.match(text.strip().lower())
        if not match:
            raise ValueError(f"transition {text!r} must be cut, crossfade:SECONDS or fade:SECONDS")
        kind, seconds = match[1], float(match[2] or 0)
        if kind == "cut" and match[2]:
            raise ValueError("a cut takes no duration")
        if kind != "cut" and seconds <= 0:
            raise ValueError(f"{kind} needs a duration > 0, e.g. {kind}:0.5")
        return cls(kind=kind, seconds=seconds)

    def __str__(self) -> str:
        return "cut" if self.kind == "cut" else f"{self.kind}:{self.seconds:g}"


class OutputSpec(_Strict):
    size: str = "1280x720"
    fps: float = Field(default=24, gt=0, le=120)
    loudness_lufs: float = Field(default=-16.0, ge=-40, le=-5)

    @field_validator("size")
    @classmethod
    def _valid_size(cls, value: str) -> str:
        parse_size(value)
        return value.strip().lower()

    @property
    def width(self) -> int:
        return parse_size(self.size)[0]

    @property
    def height(self) -> int:
        return parse_size(self.size)[1]


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
        if value > 120:
            raise ValueError("must be at most 120 seconds")
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


class PreviewSpec(_Strict):
    """How a preview renders: ``free`` puts every shot on the local animatic (nothing is spent)."""

    free: bool = False


class Storyboard(_Strict):
    title: str = Field(min_length=1)
    output: OutputSpec = OutputSpec()
    mode: Mode = Mode.PREVIEW
    preview: PreviewSpec = PreviewSpec()
    budget_usd: float | None = Field(default=None, ge=0)
    consistency: Literal["report", "rerender"] = "report"
    scenes: list[Scene] = Field(min_length=1)

    def shots(self) -> list[tuple[Scene, Shot]]:
        return [(scene, shot) for scene in self.scenes for shot in scene.shots]

    def planned_seconds(self) -> float:
        """Timeline length: shot durations minus the overlaps of the transitions between them."""
        total = 0.0
        for index, (_, shot) in enumerate(self.shots()):
            total += shot.duration
            if index > 0:
                total -= shot.transition_in.seconds
        return total


def _timeline_problems(board: Storyboard) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    previous: Shot | None = None
    for s_index, scene in enumerate(board.scenes):
        for k_index, shot in enumerate(scene.shots):
            path = f"scenes[{s_index}].shots[{k_index}]"
            if shot.id in seen:
                problems.append(
                    Problem(
                        f"{path}.id", f"duplicate shot id {shot.id!r} (also at {seen[shot.id]})"
                    )
                )
            seen.setdefault(shot.id, path)
            overlap = shot.transition_in.seconds
            if shot.continues and (previous is None or shot.reference_image):
                why = (
                    "the first shot has no previous shot"
                    if previous is None
                    else "it has its own reference_image"
                )
                problems.append(Problem(f"{path}.continues", f"cannot continue: {why}"))
            if previous is None and shot.transition_in.kind not in ("cut", "fade"):
                problems.append(
                    Problem(f"{path}.transition", "the first shot can only cut or fade in")
                )
            elif previous is not None and overlap >= min(previous.duration, shot.duration):
                problems.append(
                    Problem(
                        f"{path}.transition", f"{overlap:g}s overlap is not shorter than both shots"
                    )
                )
            previous = shot
    return problems


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _known_fields(loc: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] = Storyboard
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        inner = getattr(annotation, "__args__", (annotation,))[0]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            model = inner
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return list(model.model_fields)


def _problems_from(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(loc[-1]), _known_fields(loc), n=1)
            message = "unknown key" + (f"; did you mean {close[0]!r}?" if close else "")
        elif item["type"] == "missing":
            message = "is required"
        problems.append(Problem(_loc_to_path(loc), message))
    return problems


def parse_storyboard(data: Any, source: str = "storyboard") -> Storyboard:
    """Validate already-parsed data; raise ``StoryboardError`` listing every problem."""
    if not isinstance(data, dict):
        raise StoryboardError(
            f"{source}: must be a mapping", [Problem("", "top level must be a mapping")]
        )
    try:
        board = Storyboard.model_validate(data)
    except ValidationError as exc:
        raise StoryboardError(f"{source} is invalid", _problems_from(exc)) from None
    problems = _timeline_problems(board)
    if problems:
        raise StoryboardError(f"{source} is invalid", problems)
    return board


def parse_storyboard_text(text: str, source: str = "storyboard") -> Storyboard:
    """Parse YAML (a superset of JSON) text and validate it."""
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise StoryboardError(
            f"{source} is not valid YAML or JSON", [Problem("", str(exc))]
        ) from None
    return parse_storyboard(data, source)


def load_storyboard(path: Path) -> Storyboard:
    """Read a storyboard file (YAML or JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StoryboardError(
            f"{path}: no such file", [Problem("", f"{path} does not exist")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StoryboardError(f"{path}: cannot be read", [Problem("", str(exc))]) from None
    return parse_storyboard_text(text, str(path))
