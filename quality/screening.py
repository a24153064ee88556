"""Screening before spending: a storyboard's texts and reference images are checked before any
reservation or provider call, and a refusal names the shot, the field and the rule.

Three screens, in order: the prompt policy (``quality/prompt_policy.yaml`` or
``SHOTLINE_PROMPT_POLICY``), OpenAI's moderation endpoint (only when ``SHOTLINE_OPENAI_API_KEY`` is
set and the providers are hosted ones), and the local image safety classifier on every reference
image that is a local file (the API fetches URLs to local files before a job is created).
``pipeline.planning.route`` calls ``screen_storyboard``: plan, render, commit, re-render and every
API submission pass through it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from adapters.errors import ProviderError
from adapters.moderation import ModerationResult, OpenAIModeration
from foundation.errors import InvalidInputError, Problem
from foundation.settings import Settings
from foundation.storyboard import Storyboard
from quality.image_safety import ImageSafety, UnreadableImageError, shared_classifier
from quality.prompt_policy import PromptPolicy, TextField, prompt_policy

log = logging.getLogger(__name__)
MODERATED_FIELDS: tuple[TextField, ...] = ("prompt", "dialogue", "title")


class ScreeningRefusedError(InvalidInputError):
    """An input broke the screening policy: nothing was reserved, nothing was sent."""


@dataclass(frozen=True)
class Refusal:
    path: str  # scenes[0].shots[2].prompt
    rule: str
    reason: str

    def problem(self) -> Problem:
        return Problem(self.path, f"refused by rule {self.rule} ({self.reason})")


@dataclass(frozen=True)
class ScreenedText:
    path: str
    field: TextField
    text: str


class Moderator(Protocol):
    name: str

    def moderate(self, texts: Sequence[str]) -> list[ModerationResult]: ...


def board_texts(board: Storyboard) -> list[ScreenedText]:
    """Every text of the storyboard a provider would see, with its path."""
    texts = [ScreenedText("title", "title", board.title)]
    if board.style:  # written into every prompt (``foundation.characters``)
        texts.append(ScreenedText("style", "prompt", board.style))
    for index, character in enumerate(board.characters):
        texts.append(
            ScreenedText(f"characters[{index}].description", "prompt", character.description)
        )
    for s_index, scene in enumerate(board.scenes):
        for k_index, shot in enumerate(scene.shots):
            base = f"scenes[{s_index}].shots[{k_index}]"
            for name in ("prompt", "negative_prompt", "dialogue"):
                value = getattr(shot, name)
                if value:
                    texts.append(ScreenedText(f"{base}.{name}", name, value))
    return texts


_TOP_ORDER = ("title", "style", "characters", "scenes")


def _storyboard_order(path: str) -> tuple[int, list[Any]]:
    """``title``, ``style``, the characters, then the shots, each in order (``shots[10]`` after
    ``shots[2]``)."""
    top = re.split(r"[.\[]", path, maxsplit=1)[0]
    rank = _TOP_ORDER.index(top) if top in _TOP_ORDER else len(_TOP_ORDER)
    return rank, [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path)]


@dataclass
class Screener:
    policy: PromptPolicy
    images: ImageSafety | None = None
    moderator: Moderator | None = None
    notes: list[str] = field(default_factory=list)

    def screen(self, board: Storyboard) -> list[Refusal]:
        texts = board_texts(board)
        refusals = []
        for item in texts:
            found = self.policy.match(item.field, item.text)
            if found is not None:
                refusals.append(Refusal(item.path, found.rule.id, found.reason()))
        refused = {r.path for r in refusals}
        left = [t for t in texts if t.path not in refused and t.field in MODERATED_FIELDS]
        refusals += self._moderate(left)
        refusals += self._images(board)
        return sorted(refusals, key=lambda r: _storyboard_order(r.path))

    def _moderate(self, texts: list[ScreenedText]) -> list[Refusal]:
        if self.moderator is None or not texts:
            return []
        try:
            results = self.moderator.moderate([t.text for t in texts])
        except ProviderError as exc:  # fail open: the local policy has run; say so
            note = f"{self.moderator.name} unavailable ({exc.kind}: {exc.message}); not used"
            log.warning(note)
            self.notes.append(note)
            return []
        return [
            Refusal(
                item.path,
                f"openai-moderation:{result.top or 'flagged'}",
                f"flagged by OpenAI moderation, score {result.scores.get(result.top, 1.0):.2f}",
            )
            for item, result in zip(texts, results, strict=True)
            if result.flagged
        ]

    def _images(self, board: Storyboard) -> list[Refusal]:
        if self.images is None:
            return []
        refusals = []
        for path, image in board_images(board):
            ref = Path(image)
            if not ref.is_file():
                continue  # a URL: the API screens the file it fetches before a job starts
            try:
                verdict = self.images.check(ref)
            except UnreadableImageError as exc:
                refusals.append(Refusal(path, "image-safety", f"cannot be screened: {exc}"))
                continue
            if verdict.refused:
                refusals.append(Refusal(path, "image-safety", verdict.reason()))
        return refusals


def board_images(board: Storyboard) -> list[tuple[str, str]]:
    """Every image the storyboard names, with its path: the shots' reference images (named
    ``keyframe`` when given as one) and the characters' reference sheets."""
    found = [
        (
            f"scenes[{s_index}].shots[{k_index}]."
            + ("keyframe" if shot.keyframe == shot.reference_image else "reference_image"),
            shot.reference_image,
        )
        for s_index, scene in enumerate(board.scenes)
        for k_index, shot in enumerate(scene.shots)
        if shot.reference_image
    ]
    found += [
        (f"characters[{c_index}].reference_images[{r_index}]", image)
        for c_index, character in enumerate(board.characters)
        for r_index, image in enumerate(character.reference_images)
    ]
    return found


def raise_if_refused(refusals: list[Refusal]) -> None:
    if refusals:
        raise ScreeningRefusedError(
            "the storyboard was refused by screening; nothing was reserved or sent to a provider",
            [r.problem() for r in refusals],
        )


_image_safety: dict[float, ImageSafety] = {}
_moderators: dict[tuple[str, str], OpenAIModeration] = {}


def screener_for(settings: Settings, *, hosted: bool) -> Screener:
    """The screener the settings ask for; ``hosted`` allows the hosted moderation endpoint."""
    images = None
    if settings.image_safety:
        threshold = settings.image_safety_threshold
        images = _image_safety.setdefault(threshold, ImageSafety(shared_classifier(), threshold))
    moderator = None
    if hosted and settings.moderation and settings.openai_api_key is not None:
        key = (settings.openai_api_key.get_secret_value(), settings.moderation_url)
        moderator = _moderators.setdefault(key, OpenAIModeration(key[0], key[1]))
    return Screener(prompt_policy(settings.prompt_policy), images, moderator)


def screen_storyboard(board: Storyboard, settings: Settings, *, hosted: bool) -> Screener:
    """Screen ``board``; raise ``ScreeningRefusedError`` listing every refused input."""
    screener = screener_for(settings, hosted=hosted)
    raise_if_refused(screener.screen(board))
    return screener
