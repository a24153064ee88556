"""Brief to storyboard: a routed ``llm`` model writes a storyboard with structured output.

The model is asked for JSON matching the storyboard's JSON schema (pydantic
``Storyboard.model_json_schema()``); its answer goes through ``parse_storyboard``, the validator
every storyboard goes through, and the problems (path: message) are sent back for at most
``max_repairs`` repair rounds. A provider failure moves to the next model of the stage's fallback
chain. Every answer is priced from the registry's usage price (tokens x rate) and counted, the
failed ones too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from adapters.chat import ChatAnswer, ChatPort, chat_body
from adapters.errors import ProviderError
from foundation.errors import InvalidInputError, Problem
from foundation.limits import BRIEF_MAX_CHARS, STYLE_MAX_CHARS
from foundation.storyboard import Storyboard, StoryboardError, parse_storyboard
from registry import ModelKind, Registry
from router import HealthSource, StageCandidate, StageDecision, route_stage

SCHEMA_NAME = "storyboard"
_EXPECTED_USAGE = {"input_tokens": 3000, "output_tokens": 2000}
_SYSTEM = (
    "You write storyboards for an AI video pipeline. Answer with one JSON object matching the "
    "given JSON schema exactly: a title and scenes, each scene with an id and shots, each shot "
    "with an id (letters, digits, - _ .), a concrete visual prompt for a video model (subject, "
    "action, setting, camera, light) and a duration in seconds. Use no keys the schema lacks."
)


@dataclass(frozen=True)
class DraftBrief:
    """What to draft; a brief no model can draft from is refused on creation (``InvalidInputError``
    at ``brief`` or ``style``), before any model is asked: ``shotline draft ""`` paid for a
    storyboard titled "Write exactly shots", and a brief of any length went out from the CLI."""

    brief: str
    shots: int | None = None
    duration_s: float | None = None
    style: str | None = None

    def __post_init__(self) -> None:
        problems = _text_problems("brief", self.brief, BRIEF_MAX_CHARS)
        if self.style is not None:
            problems += _text_problems("style", self.style, STYLE_MAX_CHARS)
        if problems:
            raise InvalidInputError("nothing was drafted", problems)

    def user_text(self) -> str:
        parts = [self.brief.strip()]
        if self.shots:
            parts.append(f"Write exactly {self.shots} shots.")
        if self.duration_s:
            parts.append(f"Each shot lasts {self.duration_s:g} seconds.")
        if self.style:
            parts.append(f"Visual style for every prompt: {self.style.strip()}")
        return "\n".join(parts)


def _text_problems(path: str, text: str, longest: int) -> list[Problem]:
    if not text.strip():
        return [
            Problem(path, "is empty" + (": say what the video is about" if path == "brief" else ""))
        ]
    if len(text) > longest:
        return [Problem(path, f"is {len(text)} characters, at most {longest}")]
    if "\x00" in text:
        return [Problem(path, "contains a NUL character (U+0000)")]
    return []


@dataclass(frozen=True)
class DraftRound:
    model_id: str
    input_tokens: int
    output_tokens: int
    usd: float
    problems: tuple[Problem, ...] = ()
    error: str | None = None


@dataclass
class DraftResult:
    board: Storyboard | None
    decision: StageDecision
    rounds: list[DraftRound] = field(default_factory=list)
    uncertain: bool = False

    @property
    def cost_usd(self) -> float:
        return round(sum(r.usd for r in self.rounds), 6)

    @property
    def model_id(self) -> str | None:
        return self.rounds[-1].model_id if self.rounds else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "cost_usd": self.cost_usd,
            "cost_uncertain": self.uncertain,
            "route": self.decision.explain(),
            "rounds": [
                {
                    "model": r.model_id,
                    "input_tokens": r.input_tokens,
                    "output_tokens": r.output_tokens,
                    "usd": r.usd,
                    "problems": [f"{p.path}: {p.message}" for p in r.problems],
                    "error": r.error,
                }
                for r in self.rounds
            ],
        }


class DraftError(InvalidInputError):
    """No model drafted a valid storyboard; ``result`` holds the rounds (and their cost)."""

    def __init__(self, message: str, problems: list[Problem], result: DraftResult) -> None:
        super().__init__(message, problems)
        self.result = result


# what names a file: a brief supplies none, and a path a model invents would make ``plan`` refuse
# the draft (the files are checked before any spend), so drafts neither see nor write them
FILE_FIELDS = {"": ("music",), "Shot": ("reference_image",), "Character": ("reference_images",)}


def storyboard_schema() -> dict[str, Any]:
    """The storyboard's JSON schema without the fields that name files (``FILE_FIELDS``)."""
    schema = Storyboard.model_json_schema()
    for model, fields in FILE_FIELDS.items():
        properties = (schema["$defs"][model] if model else schema)["properties"]
        for name in fields:
            properties.pop(name, None)
    schema["$defs"].pop("MusicSpec", None)
    return schema


def board_data(board: Storyboard) -> dict[str, Any]:
    """What ``draft`` writes: the validated board without its defaults (``plan`` reads it), and
    without file names a model wrote although the schema has none."""
    data = board.model_dump(mode="json", exclude_defaults=True)
    data.pop("music", None)
    for character in data.get("characters", []):
        character.pop("reference_images", None)
    for scene in data.get("scenes", []):
        for shot in scene.get("shots", []):
            shot.pop("reference_image", None)
    return data


def draft_storyboard(
    brief: DraftBrief,
    registry: Registry,
    clients: Mapping[str, ChatPort],
    *,
    providers: Collection[str] | None = None,
    pin: str | None = None,
    health: HealthSource | None = None,
    max_repairs: int = 2,
    today: date | None = None,
    validate: Callable[[Any], Storyboard] | None = None,
    admit: Callable[[StageDecision], None] | None = None,
    on_round: Callable[[DraftResult], None] | None = None,
) -> DraftResult:
    """Route an ``llm`` model among the providers with a client whose ``api`` is the model's
    (``pin``: a model id to try first), and draft. Raises ``DraftError`` when every model in the
    chain failed or the last answer is still invalid after the repairs. ``admit`` is given the
    routing before the first request and raises to refuse the draft (e.g. over a budget);
    ``on_round`` is given the result after each answer (or failed request), to book it then."""
    enabled = set(clients) & set(providers if providers is not None else clients)
    decision = route_stage(
        registry,
        ModelKind.LLM,
        enabled,
        usage=_EXPECTED_USAGE,
        accepts=lambda spec: _speaks(spec.caps, clients.get(spec.provider)),
        health=health,
        pin=pin,
        today=today,
    )
    result = DraftResult(None, decision)
    if pin and pin not in {c.model_id for c in decision.chain}:
        # a pin no route takes (retired, another provider's, no structured output) was passed over
        # in silence: the draft went to another provider's model
        reasons = "; ".join(decision.rejected.get(pin) or ["it cannot draft"])
        raise InvalidInputError(
            "the model asked for cannot draft; nothing was sent",
            [Problem("model", f"{pin}: {reasons}")],
        )
    if not decision.chain:
        problem = Problem("model", decision.explain())
        raise DraftError("no language model can draft the storyboard", [problem], result)
    if admit is not None:
        admit(decision)
    check = validate or (lambda data: _checked(data, brief))
    booked = on_round or (lambda _: None)
    last: list[Problem] = []
    for candidate in decision.chain:
        try:
            board, last = _converse(brief, candidate, clients[candidate.provider], result, check,
                                    (registry, today), max_repairs, booked)  # fmt: skip
        except ProviderError as exc:
            last = [Problem("model", f"{candidate.model_id}: {exc}")]
            result.rounds.append(DraftRound(candidate.model_id, 0, 0, 0.0, (), str(exc)))
            booked(result)
            continue
        if board is not None:
            result.board = board
            return result
        break  # the model answered but could not repair: another model is no likelier to
    raise DraftError("the drafted storyboard is still invalid", last, result)


STRUCTURED = {"openai_chat": "json_schema", "gemini_generate_content": "response_schema"}


def _speaks(caps: Mapping[str, Any], client: ChatPort | None) -> str | None:
    """Why the provider's client cannot draft with a model of these capabilities (None: it can):
    the model's ``api`` must be the client's, with that api's structured output."""
    api = caps.get("api")
    if client is not None and api != client.api:
        return f"api is {api!r}; the {client.provider} client speaks {client.api!r}"
    if api in STRUCTURED and caps.get("structured_output") != STRUCTURED[str(api)]:
        return f"structured_output is {caps.get('structured_output')!r}, needs {STRUCTURED[api]!r}"
    return None


def _converse(
    brief: DraftBrief,
    candidate: StageCandidate,
    client: ChatPort,
    result: DraftResult,
    check: Callable[[Any], Storyboard],
    priced: tuple[Registry, date | None],
    max_repairs: int,
    booked: Callable[[DraftResult], None],
) -> tuple[Storyboard | None, list[Problem]]:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": brief.user_text()},
    ]
    problems: list[Problem] = []
    for _ in range(1 + max(max_repairs, 0)):
        body = chat_body(
            candidate.provider_model, messages, schema_name=SCHEMA_NAME, schema=storyboard_schema()
        )
        answer = client.complete(body)
        board, problems = _validated(answer.text, check)
        result.rounds.append(_priced(answer, candidate, priced[0], problems, result, priced[1]))
        booked(result)
        if board is not None:
            return board, []
        messages.append({"role": "assistant", "content": answer.text})
        messages.append({"role": "user", "content": _repair_text(problems)})
    return None, problems


def _checked(data: Any, brief: DraftBrief) -> Storyboard:
    """The storyboard validator, then what the brief asked for (shot count and length)."""
    board = parse_storyboard(data, "draft")
    problems: list[Problem] = []
    shots = board.shots()
    if brief.shots and len(shots) != brief.shots:
        problems.append(
            Problem("scenes", f"has {len(shots)} shots; the brief asks for {brief.shots}")
        )
    if brief.duration_s:
        problems += [
            Problem(f"scenes[{s_i}].shots[{h_i}].duration", f"must be {brief.duration_s:g}")
            for s_i, scene in enumerate(board.scenes)
            for h_i, shot in enumerate(scene.shots)
            if abs(shot.duration - brief.duration_s) > 1e-6
        ]
    if problems:
        raise StoryboardError("draft does not follow the brief", problems)
    return board


def _validated(
    text: str, check: Callable[[Any], Storyboard]
) -> tuple[Storyboard | None, list[Problem]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, [Problem("", f"the answer is not JSON: {exc}")]
    try:
        return check(data), []
    except StoryboardError as exc:
        return None, list(exc.problems)


def _priced(
    answer: ChatAnswer,
    candidate: StageCandidate,
    registry: Registry,
    problems: list[Problem],
    result: DraftResult,
    today: date | None,
) -> DraftRound:
    spec = registry.get(candidate.model_id)
    assert spec.usage_price is not None
    usage = {
        "input_tokens": answer.input_tokens - answer.cached_input_tokens,
        "cached_input_tokens": answer.cached_input_tokens,
        "output_tokens": answer.output_tokens,
    }
    cost = spec.usage_price.cost(usage, on=today)
    result.uncertain = result.uncertain or cost.uncertain
    return DraftRound(
        candidate.model_id, answer.input_tokens, answer.output_tokens, cost.usd, tuple(problems)
    )


def _repair_text(problems: list[Problem]) -> str:
    lines = [f"- {p.path or '(top level)'}: {p.message}" for p in problems]
    return (
        "The storyboard is invalid. Fix these problems and answer with the whole corrected "
        "storyboard as JSON:\n" + "\n".join(lines)
    )
