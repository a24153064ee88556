"""Characters and a style, declared once in the storyboard and written into every prompt that
features them, so each model hears the same description of Mara in every shot.

``compose_prompt`` is the one place a shot's prompt is built from its own text, the descriptions of
the characters it features (in the order the shot lists them) and the storyboard's style. Routing
(prompt limits), screening, the provider request and the shot cache all read the composed prompt,
so editing a character's description re-renders exactly the shots that feature the character.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any

from pydantic import Field, field_validator

from foundation.errors import Problem
from foundation.strict import Strict

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
MAX_VOICE_CHARS = 200
_NAMED_VOICE = re.compile(r"^(openai|elevenlabs|local):(\S+)$")  # as ``adapters.voices`` reads it
_VOICE_ID = re.compile(r"[A-Za-z0-9_+-]{1,64}")


class Character(Strict):
    id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
    description: str = Field(min_length=1, max_length=1000)
    # how the character sounds ("calm, low"): a shot this character speaks in gets a tts stage,
    # the description mapped to a provider voice (``adapters.voices``). ``openai:onyx`` or
    # ``elevenlabs:<voice_id>`` names one provider's voice outright (only that provider honours it)
    voice: str | None = Field(default=None, min_length=1, max_length=MAX_VOICE_CHARS)
    # sent to models that take reference images (``inputs.reference_images``) with every shot
    # featuring the character; at most 3, the most any routed model takes (Veo 3.1's asset images)
    reference_images: list[Annotated[str, Field(min_length=1, max_length=2048)]] = Field(
        default_factory=list, max_length=3
    )

    @field_validator("description")
    @classmethod
    def _described(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("voice")
    @classmethod
    def _voiced(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty (leave `voice` out for a shot's own sound)")
        named = _NAMED_VOICE.match(value.strip()) if value is not None else None
        if named and not _VOICE_ID.fullmatch(named[2]):  # it goes into the provider's URL path
            raise ValueError(
                f"{named[1]}:VOICE_ID needs an id of letters, digits, '_', '-' or '+' "
                f"(at most 64), not {named[2][:40]!r}"
            )
        return None if value is None else " ".join(value.split())


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def compose_prompt(prompt: str, featured: Sequence[tuple[str, str]], style: str | None) -> str:
    """``prompt``, then ``id: description.`` for each featured character, then ``Style: ...``;
    the prompt itself when the shot features nobody and the storyboard has no style."""
    if not featured and not style:
        return prompt
    parts = [_sentence(prompt)]
    parts += [f"{name}: {_sentence(description)}" for name, description in featured]
    if style:
        parts.append(f"Style: {_sentence(style)}")
    return " ".join(parts)


def composed_spec_prompt(storyboard: Mapping[str, Any], spec: Mapping[str, Any]) -> str:
    """``compose_prompt`` for a shot of a stored storyboard (the JSON a job keeps)."""
    described = {c["id"]: c["description"] for c in storyboard.get("characters") or []}
    featured = [(cid, described[cid]) for cid in spec.get("characters") or [] if cid in described]
    return compose_prompt(str(spec["prompt"]), featured, storyboard.get("style"))


def spec_voice(storyboard: Mapping[str, Any], spec: Mapping[str, Any]) -> str | None:
    """The voice that speaks a shot's line (a stored storyboard's JSON): its speaker's ``voice``
    when the shot has a line and a speaker with a voice, else None (the video model's own sound)."""
    if not spec.get("speaker") or not str(spec.get("dialogue") or "").strip():
        return None
    voices = {c["id"]: c.get("voice") for c in storyboard.get("characters") or []}
    return voices.get(spec["speaker"])


def video_spec(storyboard: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the video stage renders of a shot: a voiced line (``spec_voice``) is spoken by the tts
    stage and mixed over the clip, so the video model is not sent it and renders the shot's own
    sound (``audio: dialogue`` becomes ``ambient``); other shots as they are."""
    if spec_voice(storyboard, spec) is None:
        return dict(spec)
    audio = "ambient" if spec.get("audio") == "dialogue" else spec.get("audio", "none")
    return dict(spec) | {"dialogue": None, "speaker": None, "audio": audio}


def featured_references(
    references: Mapping[str, Sequence[str]], featured: Iterable[str]
) -> list[str]:
    """The reference images of the ``featured`` characters, in the shot's order, each once."""
    return list(dict.fromkeys(image for cid in featured for image in references.get(cid, ())))


def spec_references(storyboard: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    """``featured_references`` for a shot of a stored storyboard (the JSON a job keeps)."""
    images = {c["id"]: c.get("reference_images") or [] for c in storyboard.get("characters") or []}
    return featured_references(images, spec.get("characters") or [])


def character_problems(
    characters: Sequence[Character], shots: Iterable[tuple[str, Any]]
) -> list[Problem]:
    """Duplicate character ids; shots naming an undeclared character, one twice, or a speaker that
    is not among its characters or has no line. ``shots``: ``(path, shot)`` pairs."""
    problems: list[Problem] = []
    declared: dict[str, int] = {}
    for index, character in enumerate(characters):
        if character.id in declared:
            where = f"characters[{declared[character.id]}]"
            problems.append(
                Problem(
                    f"characters[{index}].id", f"duplicate character {character.id!r} ({where})"
                )
            )
        declared.setdefault(character.id, index)
    for path, shot in shots:
        problems += _shot_problems(path, shot, list(declared))
    return problems


def _shot_problems(path: str, shot: Any, declared: list[str]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, name in enumerate(shot.characters):
        where = f"{path}.characters[{index}]"
        if name in seen:
            problems.append(Problem(where, f"{name!r} is listed twice"))
        elif name not in declared:
            close = difflib.get_close_matches(name, declared, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "; declare it under `characters`"
            problems.append(Problem(where, f"unknown character {name!r}{hint}"))
        seen.add(name)
    if shot.speaker is not None:
        if not (shot.dialogue or "").strip():
            problems.append(Problem(f"{path}.speaker", "a speaker needs a `dialogue` line"))
        elif shot.speaker not in shot.characters:
            message = f"{shot.speaker!r} speaks but is not among the shot's characters"
            problems.append(Problem(f"{path}.speaker", message))
    return problems
