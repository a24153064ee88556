"""Model kinds: every model has one (video by default); non-video models are priced by usage on
their kind's meters, each rate with a source and a date, and declare their kind's capabilities."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from registry import ModelKind, RegistryFileError, load_registry

TODAY = date(2026, 12, 4)


@pytest.fixture(scope="module")
def catalog():
    return load_registry()


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "user.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryFileError) as info:
        load_registry(path)
    return [str(p) for p in info.value.problems]


def test_every_kind_has_real_models_and_existing_entries_stay_video(catalog):
    assert catalog.get("google/veo-3.1").kind is ModelKind.VIDEO
    assert catalog.get("local/animatic").kind is ModelKind.VIDEO
    expected = {
        ModelKind.LLM: {"gemini/gemini-3.5-flash-lite", "openai/gpt-4.1-mini", "openai/gpt-5-mini"},
        ModelKind.IMAGE: {
            "openai/gpt-image-2",
            "fal/flux-schnell",
            "fal/flux-kontext-pro",
            "gemini/gemini-2.5-flash-image",
            "local/keyframe",
        },
        ModelKind.TTS: {"openai/gpt-4o-mini-tts", "openai/tts-1", "elevenlabs/multilingual-v2"},
        ModelKind.MUSIC: {"elevenlabs/music-v1"},
    }
    for kind, ids in expected.items():
        assert ids <= {m.id for m in catalog.of_kind(kind, TODAY)}, kind
    # Imagen 4 left the Gemini API on 2026-08-17, GPT Image 1 was shut down on 2026-10-23:
    # kept, retired, pointing at their replacements
    imagen = catalog.get("gemini/imagen-4").lifecycle
    assert (imagen.retired_on, imagen.replacement) == (
        date(2026, 8, 17),
        "gemini/gemini-2.5-flash-image",
    )
    gpt = catalog.get("openai/gpt-image-1").lifecycle
    assert (gpt.retired_on, gpt.replacement) == (date(2026, 10, 23), "openai/gpt-image-2")


def test_every_usage_rate_has_a_source_and_a_date(catalog):
    for spec in catalog:
        if spec.kind is ModelKind.VIDEO:
            assert spec.usage_price is None
            continue
        assert spec.usage_price is not None
        assert spec.caps, spec.id
        for rate in spec.usage_price.rates:
            assert len(rate.source) > 10, spec.id
            assert rate.effective > date(2020, 1, 1), spec.id


def test_llm_cost_is_tokens_times_rate(catalog):
    price = catalog.get("openai/gpt-4.1-mini").usage_price
    cost = price.cost({"input_tokens": 1_000_000, "output_tokens": 500_000}, on=TODAY)
    assert cost.usd == pytest.approx(0.40 + 0.80)
    assert [line[0] for line in cost.lines] == ["input_tokens", "output_tokens"]
    with pytest.raises(KeyError):
        price.cost({"images": 1}, on=TODAY)


def test_uncertain_prices_say_so(catalog):
    music = catalog.get("elevenlabs/music-v2").usage_price
    assert music.cost({"seconds": 30}, on=TODAY).uncertain
    tts = catalog.get("openai/tts-1").usage_price
    assert not tts.cost({"characters": 1000}, on=TODAY).uncertain


LLM = """models:
  - id: acme/chat
    kind: llm
    provider: openai
    provider_model: chat-1
    tier: standard
    speed: fast
    limits: {concurrency: 1}
"""


def test_a_non_video_model_is_refused_without_usage_price_or_with_wrong_meters(tmp_path):
    assert any("priced by usage_price" in p for p in _problems(tmp_path, LLM))
    wrong = LLM + (
        "    capabilities: {api: openai_chat, context_tokens: 1000, max_output_tokens: 100,\n"
        "                   structured_output: json_schema}\n"
        "    usage_price: {source: docs, effective: 2026-01-01,\n"
        "                  rates: [{meter: seconds, usd: 1}]}\n"
    )
    assert any("not billed on seconds" in p for p in _problems(tmp_path, wrong))


def test_a_non_video_model_needs_its_kinds_capabilities(tmp_path):
    text = LLM + (
        "    capabilities: {api: telepathy}\n"
        "    usage_price: {source: docs, effective: 2026-01-01,\n"
        "                  rates: [{meter: input_tokens, usd: 1, per: 1000000}]}\n"
    )
    problems = _problems(tmp_path, text)
    assert any("acme/chat" in p for p in problems), problems


def test_a_video_model_still_needs_its_clip_fields(tmp_path):
    text = LLM.replace("    kind: llm\n", "")
    assert any("a video model needs durations" in p for p in _problems(tmp_path, text))


IMAGE = LLM.replace("kind: llm", "kind: image").replace("acme/chat", "acme/draw") + (
    "    usage_price: {source: docs, effective: 2026-01-01, rates: [{meter: megapixels, usd: 1}]}\n"
)


@pytest.mark.parametrize(
    ("caps", "problem"),
    [
        ("{api: local}", "needs sizes, aspect_ratios or any_size"),
        ("{api: local, sizes: ['1024by1024']}", "'1024by1024' is not WIDTHxHEIGHT"),
        (
            "{api: local, aspect_ratios: ['16:9'], size_for_aspect: {'16:9': 'big'}}",
            "not WIDTHxHEIGHT",
        ),
        ("{api: crayons, any_size: true}", "api"),
    ],
)
def test_an_image_model_names_its_output_and_its_wire(tmp_path, caps, problem):
    problems = _problems(tmp_path, IMAGE + f"    capabilities: {caps}\n")
    assert any("acme/draw" in p and problem in p for p in problems), problems


def test_image_meters_are_images_megapixels_and_tokens(catalog, tmp_path):
    assert catalog.get("fal/flux-schnell").usage_price.meters == {"megapixels"}
    assert catalog.get("openai/gpt-image-2").usage_price.meters == {
        "input_tokens",
        "image_input_tokens",
        "output_tokens",
    }
    wrong = IMAGE.replace("meter: megapixels", "meter: characters") + (
        "    capabilities: {api: local, any_size: true}\n"
    )
    assert any("not billed on characters" in p for p in _problems(tmp_path, wrong))
