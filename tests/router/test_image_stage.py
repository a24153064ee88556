"""Routing an image stage (keyframes, reference sheets): what each model would draw for the video's
frame, which models are left out and why, and the quote of each on its own meters."""

from __future__ import annotations

from datetime import date

import pytest

from registry import image_target, load_registry
from router import ImageNeeds, route_image_stage
from router._image_stage import expected_usage

TODAY = date(2026, 12, 5)
HOSTED = ("openai", "fal", "gemini")


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def route(registry, needs, providers=HOSTED, **kwargs):
    return route_image_stage(registry, providers, needs, today=TODAY, **kwargs)


def test_targets_by_how_each_model_names_its_output(registry):
    gpt = image_target(registry.get("openai/gpt-image-1").caps, 1280, 720)
    assert (gpt.size, round(gpt.crop, 2)) == ("1536x1024", 0.16)  # 3:2, the closest to 16:9
    gpt2 = image_target(registry.get("openai/gpt-image-2").caps, 1920, 1080)
    assert (gpt2.size, gpt2.crop) == ("1920x1072", 0)  # sides divisible by 16, within 1%
    sheet = image_target(registry.get("openai/gpt-image-2").caps, 720, 720)
    assert (sheet.size, sheet.scale) == ("816x816", 1.0)  # drawn up to 655,360 pixels at least
    just_over = image_target(registry.get("openai/gpt-image-2").caps, 810, 810)
    assert just_over.size == "816x816"  # rounded down to 800x800, under the floor
    small = image_target(registry.get("openai/gpt-image-2").caps, 854, 480)
    assert (small.size, small.crop) == ("1088x608", 0)
    big = image_target(registry.get("openai/gpt-image-2").caps, 7680, 4320)
    assert (big.size, big.scale) == ("3840x2160", 2.0)
    kontext = image_target(registry.get("fal/flux-kontext-pro").caps, 720, 1280)
    assert (kontext.aspect, kontext.width, kontext.height, kontext.crop) == ("9:16", 752, 1392, 0)
    schnell = image_target(registry.get("fal/flux-schnell").caps, 1920, 1080)
    assert (schnell.size, schnell.crop, schnell.scale) == ("1920x1080", 0, 1.0)
    flash = image_target(registry.get("gemini/gemini-2.5-flash-image").caps, 1920, 1080)
    assert (flash.aspect, flash.width, flash.height) == ("16:9", 1344, 768)
    assert flash.scale == pytest.approx(1920 / 1344)


def test_a_16_9_keyframe_leaves_out_what_cannot_draw_it_and_says_why(registry):
    decision = route(registry, ImageNeeds(1280, 720))
    assert [c.model_id for c in decision.chain] == [
        "fal/flux-schnell",
        "gemini/gemini-2.5-flash-image",
        "fal/flux-kontext-pro",
    ]
    assert decision.rejected["openai/gpt-image-1"] == [
        "lifecycle retired",
        "draws no 16:9 frame: its closest, 1536x1024, loses 16% to the crop (allowed 0%)",
    ]
    assert decision.rejected["gemini/imagen-4"] == ["lifecycle retired"]
    assert "openai/gpt-image-2" not in decision.rejected  # ranked after the three cheaper
    assert decision.rejected["local/keyframe"] == ["provider local is not enabled"]


def test_references_choose_the_models_that_read_them(registry):
    decision = route(registry, ImageNeeds(1280, 720, references=2, max_crop=0.2))
    assert [c.model_id for c in decision.chain] == [
        "gemini/gemini-2.5-flash-image",
        "fal/flux-kontext-pro",
        "openai/gpt-image-2",
    ]
    assert decision.rejected["fal/flux-schnell"] == ["takes 0 reference image(s), the stage has 2"]
    five = route(registry, ImageNeeds(1280, 720, references=5, max_crop=0.2))
    assert [c.model_id for c in five.chain] == ["openai/gpt-image-2"]
    assert five.rejected["gemini/gemini-2.5-flash-image"] == [
        "takes 3 reference image(s), the stage has 5"
    ]
    assert (
        "fal/flux-kontext-pro: takes 4 reference image(s)"
        in route(registry, ImageNeeds(1280, 720, references=17, max_crop=0.2)).explain()
    )


def test_prompt_n_negative_prompt_and_seed_are_capabilities(registry):
    long_prompt = route(registry, ImageNeeds(1024, 1024, prompt_chars=40_000))
    assert long_prompt.rejected["openai/gpt-image-2"] == [
        "prompt limit 32000 chars, the prompt has 40000"
    ]
    seeded = route(registry, ImageNeeds(1024, 1024, seed=True))
    assert seeded.rejected["openai/gpt-image-2"] == ["takes no seed"]
    banner = route(registry, ImageNeeds(4000, 1000))
    assert banner.rejected["openai/gpt-image-2"] == ["draws aspects up to 3:1, the frame is 4.00:1"]
    assert "gemini/gemini-2.5-flash-image" in seeded.rejected
    negative = route(registry, ImageNeeds(1024, 1024, negative_prompt=True), providers=("local",))
    assert negative.chain == ()  # no image API here takes one: the stage folds it into the prompt
    assert negative.rejected["local/keyframe"] == ["takes no negative prompt"]
    many = route(registry, ImageNeeds(1024, 1024, n=5))
    assert many.rejected["fal/flux-schnell"] == [
        "draws at most 4 image(s) a request, the stage asks 5"
    ]


def test_local_previews_route_to_the_free_keyframe(registry):
    decision = route(registry, ImageNeeds(1280, 720, references=2), providers=("local",))
    assert decision.chain[0].model_id == "local/keyframe"
    assert decision.chain[0].estimate_usd == 0


def test_quotes_are_priced_on_each_models_meters(registry):
    needs = ImageNeeds(1280, 720, references=1, prompt_chars=400, max_crop=0.2)
    quotes = {c.model_id: c.estimate_usd for c in route(registry, needs).chain}
    # Kontext: a flat $0.04; Gemini: 100 text + 258 image tokens in, 1290 out
    assert quotes["fal/flux-kontext-pro"] == pytest.approx(0.04)
    assert quotes["gemini/gemini-2.5-flash-image"] == pytest.approx(
        358 * 0.3e-6 + 1290 * 30e-6, abs=1e-6
    )
    gpt = expected_usage(registry.get("openai/gpt-image-2"), needs)
    assert gpt == {
        "input_tokens": 100,
        "image_input_tokens": 323,
        "output_tokens": 1767,  # a 1280x720 frame quoted as a whole ~1 MP image (cautious)
    }
    schnell = expected_usage(registry.get("fal/flux-schnell"), ImageNeeds(1920, 1080))
    assert schnell == {"megapixels": 2.0}
