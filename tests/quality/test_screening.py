"""Screening a storyboard: the prompt policy, the hosted moderation endpoint (a mock transport) and
the real local image classifier, each refusal naming its path and rule."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from pydantic import SecretStr

from adapters.moderation import OpenAIModeration
from foundation.settings import Settings
from foundation.storyboard import Storyboard, parse_storyboard
from quality.image_safety import ImageSafety, shared_classifier
from quality.prompt_policy import load_prompt_policy
from quality.screening import (
    Screener,
    ScreeningRefusedError,
    screen_storyboard,
    screener_for,
)

POLICY = load_prompt_policy()


def board(*shots: dict[str, Any], title: str = "Harbour") -> Storyboard:
    specs = [{"id": f"k{i}", "duration": 2} | spec for i, spec in enumerate(shots)]
    return parse_storyboard({"title": title, "scenes": [{"id": "s", "shots": specs}]})


def calm(**extra: Any) -> dict[str, Any]:
    return {"prompt": "a lighthouse in fog at dawn"} | extra


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A chequerboard (open_nsfw: ~0.001) and a flat skin-tone frame (~0.26): no unsafe media is
    needed to see the real model's score cross a threshold."""
    directory = tmp_path_factory.mktemp("refs")
    y, x = np.mgrid[0:180, 0:320]
    cells = (((x // 20) + (y // 20)) % 2 * 255).astype(np.uint8)
    skin = np.zeros((180, 320, 3), np.uint8)
    skin[:] = (144, 172, 224)  # BGR
    paths = {"board": directory / "board.png", "skin": directory / "skin.png"}
    cv2.imwrite(str(paths["board"]), cv2.merge([cells, 255 - cells, cells // 2]))
    cv2.imwrite(str(paths["skin"]), skin)
    (directory / "notes.png").write_text("not an image")
    paths["text"] = directory / "notes.png"
    return paths


def test_every_refused_text_is_named_in_storyboard_order() -> None:
    shots = [calm() for _ in range(12)]
    shots[2] = calm(prompt="a pirate stabbed to death on the deck")
    shots[10] = calm(audio="dialogue", dialogue="I will kill myself")
    shots[11] = calm(negative_prompt="gore, mutilation")  # negative prompts are not read
    refusals = Screener(POLICY).screen(board(*shots, title="A Gory Tale"))
    assert [(r.path, r.rule) for r in refusals] == [
        ("title", "gore"),
        ("scenes[0].shots[2].prompt", "weapons-graphic"),
        ("scenes[0].shots[10].dialogue", "self-harm"),
    ]
    assert str(refusals[1].problem()) == (
        "scenes[0].shots[2].prompt: refused by rule weapons-graphic "
        "(graphic violence with weapons: matched 'stabbed to death')"
    )


def _moderation(flag: str, seen: list[list[str]], status: int = 200) -> OpenAIModeration:
    def handler(request: httpx.Request) -> httpx.Response:
        texts = json.loads(request.content)["input"]
        seen.append(texts)
        if status != 200:
            return httpx.Response(status, json={"error": {"message": "overloaded"}})
        results = [
            {
                "flagged": flag in text,
                "categories": {"harassment": flag in text, "violence": False},
                "category_scores": {"harassment": 0.93 if flag in text else 0.0, "violence": 0.1},
            }
            for text in texts
        ]
        return httpx.Response(200, json={"id": "modr", "model": "omni", "results": results})

    return OpenAIModeration("sk", "http://mod.test/v1", transport=httpx.MockTransport(handler))


def test_hosted_moderation_refuses_what_the_rules_let_through() -> None:
    seen: list[list[str]] = []
    storyboard = board(
        calm(audio="dialogue", dialogue="you worthless fool"),
        calm(prompt="a pirate stabbed to death", negative_prompt="blurry"),
    )
    refusals = Screener(POLICY, moderator=_moderation("worthless", seen)).screen(storyboard)
    assert [(r.path, r.rule) for r in refusals] == [
        ("scenes[0].shots[0].dialogue", "openai-moderation:harassment"),
        ("scenes[0].shots[1].prompt", "weapons-graphic"),
    ]
    assert "score 0.93" in refusals[0].reason
    # one request; what the rules refused already and negative prompts are not sent
    assert seen == [["Harbour", "a lighthouse in fog at dawn", "you worthless fool"]]


def test_an_unavailable_moderation_endpoint_is_noted_and_the_rules_still_apply(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[list[str]] = []
    screener = Screener(POLICY, moderator=_moderation("x", seen, status=503))
    with caplog.at_level(logging.WARNING, logger="quality.screening"):
        refusals = screener.screen(board(calm(), calm(prompt="a gory scene")))
    assert [r.rule for r in refusals] == ["gore"]
    assert len(seen) == 1
    assert "openai-moderation unavailable (transient" in screener.notes[0]
    assert "openai-moderation unavailable" in caplog.text


def test_the_real_classifier_passes_a_safe_image_and_refuses_over_its_threshold(
    images: dict[str, Path],
) -> None:
    classifier = shared_classifier()
    storyboard = board(
        calm(reference_image=str(images["board"])),
        calm(reference_image=str(images["skin"])),
        calm(reference_image="https://cdn.example.com/ref.png"),  # fetched and screened by the API
    )
    assert Screener(POLICY, ImageSafety(classifier, 0.8)).screen(storyboard) == []
    strict = Screener(POLICY, ImageSafety(classifier, 0.2)).screen(storyboard)
    assert [(r.path, r.rule) for r in strict] == [
        ("scenes[0].shots[1].reference_image", "image-safety")
    ]
    score = float(strict[0].reason.split("scores it ")[1].split(",")[0])
    assert 0.2 <= score < 0.5
    assert strict[0].reason.endswith("at or over the threshold 0.20")


def test_a_reference_file_that_is_not_an_image_cannot_be_screened(
    images: dict[str, Path],
) -> None:
    screener = Screener(POLICY, ImageSafety(shared_classifier(), 0.8))
    refusals = screener.screen(board(calm(reference_image=str(images["text"]))))
    assert refusals[0].path == "scenes[0].shots[0].reference_image"
    assert "cannot be screened: notes.png is not a readable image" in refusals[0].reason


def test_moderation_is_used_only_with_a_key_and_hosted_providers() -> None:
    keyed = Settings(openai_api_key=SecretStr("sk"), image_safety=False)
    assert screener_for(keyed, hosted=True).moderator is not None
    assert screener_for(keyed, hosted=False).moderator is None
    assert screener_for(Settings(openai_api_key=None), hosted=True).moderator is None
    assert (
        screener_for(keyed.model_copy(update={"moderation": False}), hosted=True).moderator is None
    )


def test_screen_storyboard_raises_one_error_listing_every_refusal(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "rules:\n  - {id: no-cola, description: competitor brands, fields: [prompt], "
        "words: [acme cola]}\n"
    )
    settings = Settings(prompt_policy=policy, image_safety=False)
    with pytest.raises(ScreeningRefusedError) as caught:
        screen_storyboard(board(calm(), calm(prompt="a can of Acme Cola")), settings, hosted=False)
    assert caught.value.exit_code == 2
    assert caught.value.status_code == 422
    assert [str(p) for p in caught.value.problems] == [
        "scenes[0].shots[1].prompt: refused by rule no-cola (competitor brands: matched 'Acme Cola')"
    ]


def test_character_descriptions_and_the_style_are_screened_like_prompts() -> None:
    data = {
        "title": "Harbour",
        "style": "a pirate stabbed to death in every frame",
        "characters": [
            {"id": "mara", "description": "a calm sailor"},
            {"id": "rook", "description": "a man covered in gore and mutilation"},
        ],
        "scenes": [{"id": "s", "shots": [calm(id="k0", duration=2, characters=["rook"])]}],
    }
    refusals = Screener(POLICY).screen(parse_storyboard(data))
    assert [(r.path, r.rule) for r in refusals] == [
        ("style", "weapons-graphic"),
        ("characters[1].description", "gore"),
    ]
