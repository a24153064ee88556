"""Every hard-filter reason and every adaptation, one scenario each."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

import router
from adapters.base import GenerationRequest
from foundation.settings import Settings
from foundation.spoken import with_negative
from foundation.storyboard import Mode
from registry import Registry
from tests.router.conftest import ALL, HOSTED, TODAY, board, plan_for, policy, shot, single


def reasons(decision: router.ShotDecision, model_id: str) -> str:
    return " | ".join(decision.rejected.get(model_id, []))


def candidate(decision: router.ShotDecision, model_id: str) -> router.Candidate:
    found = [c for c in decision.candidates if c.model_id == model_id]
    assert found, f"{model_id} not in chain: {decision.rejected.get(model_id)}"
    return found[0]


def evaluate(registry: Registry, mode: Mode = Mode.PREVIEW, pol=None, providers=None, **fields):
    """All feasible candidates (not only the capped chain) and the rejections for one shot."""
    b = board([shot(**fields)])
    scene = b.scenes[0]
    need = router.shot_need(b, scene, scene.shots[0], "scenes[0].shots[0]")
    r = router.Router(registry, mode=mode, providers=providers or ALL, policy=pol or policy(mode))
    ev = r.evaluate(need)
    return {c.model_id: c for c in ev.feasible}, ev.rejected


class TestHardFilter:
    def test_duration_over_the_maximum(self, registry):
        feasible, rejected = evaluate(registry, duration=12)
        assert rejected["google/veo-3.1"] == ["duration 12s over the 8s maximum (4/6/8s) at 720p"]
        assert rejected["runway/gen4.5"] == ["duration 12s over the 10s maximum (2-10s step 1)"]
        assert "kling/v3-std" in feasible

    def test_aspect_not_offered(self, registry):
        b = board([shot(duration=5)], output={"size": "1440x1080"})
        decision = plan_for(b, registry, providers=ALL, policy=policy()).decisions["shot1"]
        assert "aspect 4:3 not offered (offers 16:9, 9:16)" in reasons(decision, "google/veo-3.1")
        assert decision.primary is not None  # luma offers 4:3

    def test_dialogue_needs_native_dialogue_audio(self, registry):
        _, rejected = evaluate(registry, audio="dialogue", dialogue="Hello.")
        assert rejected["runway/gen4.5"] == ["no native dialogue audio"]

    def test_ambient_audio_in_final_mode(self, registry):
        _, rejected = evaluate(registry, mode=Mode.FINAL, audio="ambient")
        assert "no native audio (the shot asks for ambient sound)" in rejected["luma/ray-2"]

    def test_reference_image_needs_image_input(self, registry):
        _, rejected = evaluate(registry, reference_image="ref.png")
        assert (
            "takes no image input (the shot has a reference image)" in rejected["fal/kling-v3-pro"]
        )

    def test_a_continuing_shot_needs_image_input(self, registry):
        """It was said to have "a reference image"; and Luma's Dream Machine takes none
        (docs.lumalabs.ai/docs/video-generation: an image only as a URL Luma fetches)."""
        b = board([shot(duration=5), shot(duration=5, continues=True)])
        decision = plan_for(b, registry, providers=ALL, policy=policy()).decisions["shot2"]
        why = "takes no image input (the shot starts from the previous shot's last frame)"
        assert why in reasons(decision, "luma/ray-2")
        assert why in reasons(decision, "luma/ray-flash-2")

    def test_a_negative_prompt_a_model_cannot_take_is_said(self, registry):
        """Luma, OpenAI-shaped gateways and Runway's gen4 models have no negative prompt and it
        was dropped unsaid; Kling 3.0's new API has none and it went into the prompt unsaid."""
        feasible, _ = evaluate(registry, mode=Mode.FINAL, duration=5, negative_prompt="text")
        notes = {model: fit.adaptations for model, fit in feasible.items()}
        dropped = "negative_prompt not sent (the model takes none)"
        assert dropped in notes["luma/ray-3.2"]
        assert dropped in notes["runway/gen4.5"]
        assert any("'Avoid: ...'" in note for note in notes["kling/v3-std"])
        assert not any("negative_prompt" in note for note in notes["google/veo-3.1-fast"])
        plain, _ = evaluate(registry, mode=Mode.FINAL, duration=5)
        assert not any("negative_prompt" in n for fit in plain.values() for n in fit.adaptations)

    def test_a_mistyped_pin_is_the_refusal_not_a_list_of_every_model(self, registry):
        """The message listed the 24 other model ids before the pin's own reason."""
        from router._plan import unroutable_message

        b = board([shot(duration=5, model="luma/ray-flash-3")])
        (unroutable,) = plan_for(b, registry, providers=ALL, policy=policy()).unroutable
        others = len(unroutable.reasons) - 1  # every video model the router weighed
        assert unroutable_message(unroutable) == (
            "shot 'shot1': no model can take it: the shot pins model luma/ray-flash-3 (the other "
            f"{others} models); pinned by the shot but not in the registry; did you mean "
            "luma/ray-flash-2? (luma/ray-flash-3)"
        )

    def test_image_to_video_only_model_needs_an_image(self, registry):
        feasible, rejected = evaluate(registry)
        assert rejected["runway/gen4_turbo"] == [
            "image-to-video only: the shot has no reference image"
        ]
        feasible, _ = evaluate(registry, reference_image="ref.png", duration=5)
        assert "runway/gen4_turbo" in feasible

    def test_prompt_length(self, registry):
        _, rejected = evaluate(registry, prompt="slow pan " * 150)
        assert "prompt is 1349 UTF-16 code units, max 1000" in rejected["runway/gen4.5"]

    def test_prompt_length_counts_the_line_as_the_model_is_sent_it(self, registry):
        """The prompt plus the line fit Kling's 2500 characters, the prompt as sent (the line in
        quotes after "The speaker says:") did not: the adapter cut it, the line with it, and the
        gate heard no speech in any paid clip (missing_speech, every Kling model)."""
        line = "We leave at dawn."
        prompt = "x" * (2500 - len(line) - 2)
        feasible, rejected = evaluate(registry, prompt=prompt, audio="dialogue", dialogue=line)
        sent = GenerationRequest(
            "a", prompt, 5, 1280, 720, 24, "kling/v3-pro", audio=True, dialogue=line
        ).spoken_prompt
        assert len(sent) == 2519
        assert "kling/v3-pro" not in feasible
        assert "prompt is 2519 chars, max 2500" in rejected["kling/v3-pro"]
        assert "google/veo-3.1" in feasible  # 4000 characters

    def test_a_negative_written_into_the_prompt_counts_against_its_limit(self, registry):
        """Kling 3.0 takes negatives in its prompt (``Avoid: ...``): a 2,400-character prompt
        and a 200-character negative prompt were routed there and the adapter cut the negatives
        short; a model with a field for them (Veo) is measured on the prompt alone."""
        negative = "blur, " * 33 + "text"
        feasible, rejected = evaluate(registry, prompt="x" * 2400, negative_prompt=negative)
        sent = GenerationRequest(
            "a", "x" * 2400, 5, 1280, 720, 24, "kling/v3-pro", negative_prompt=negative
        )
        assert len(with_negative(sent.spoken_prompt, negative)) == 2400 + 8 + len(negative)
        assert "kling/v3-pro" not in feasible
        assert "prompt is 2610 chars with its negative prompt, max 2500" in rejected["kling/v3-pro"]
        assert "google/veo-3.1" in feasible
        feasible, _ = evaluate(registry, prompt="x" * 2400)
        assert "kling/v3-pro" in feasible

    def test_runways_limit_counts_utf16_code_units(self, registry):
        """Runway counts promptText in UTF-16 code units (runwayml 5.24.0): 600 emoji are 600
        characters but 1200 units, over its 1000, which the adapter would cut to fit; Kling counts
        characters and takes them."""
        feasible, rejected = evaluate(registry, prompt="\U0001f30a" * 600)
        assert "prompt is 1200 UTF-16 code units, max 1000" in rejected["runway/gen4.5"]
        assert "kling/v3-pro" in feasible
        feasible, _ = evaluate(registry, prompt="w" * 600)
        assert "runway/gen4.5" in feasible

    def test_retired_model_is_never_routed(self, registry):
        _, rejected = evaluate(registry)
        assert rejected["openai/sora-2"] == ["retired on 2026-09-24"]
        assert rejected["openai/sora-2-pro"] == ["retired on 2026-09-24"]

    def test_model_not_yet_available(self, registry):
        pol = policy(today=date(2026, 3, 1))
        _, rejected = evaluate(registry, pol=pol)
        assert rejected["google/veo-3.1-lite"] == ["not available until 2026-03-31"]

    def test_disabled_provider(self, registry):
        _, rejected = evaluate(registry, providers={"google", "local"})
        assert rejected["kling/v3-pro"] == ["provider kling is not enabled (--providers)"]

    def test_missing_credentials(self, registry):
        settings = Settings(vertex_access_token="ya29.token")
        availability = router.provider_availability("live", settings)
        assert availability.enabled == {"google"}
        decision = plan_for(
            board([shot()]),
            registry,
            providers=set(availability.enabled),
            unavailable=availability.unavailable,
        ).decisions["shot1"]
        assert decision.rejected["runway/gen4.5"] == [
            "no credentials for runway (set SHOTLINE_RUNWAY_API_KEY)"
        ]
        assert decision.primary is not None
        assert decision.primary.provider == "google"

    def test_disabled_in_the_registry(self, registry):
        models = [replace(m, enabled=False) if m.provider == "luma" else m for m in registry]
        trimmed = Registry(models, registry.fallback_chains)
        _, rejected = evaluate(trimmed)
        assert rejected["luma/ray-3.2"] == ["disabled in the registry"]

    def test_unverified_models_route_only_when_the_user_opts_in(self, registry):
        models = [
            replace(m, lifecycle=replace(m.lifecycle, unverified=True))
            if m.provider == "luma"
            else m
            for m in registry
        ]
        trimmed = Registry(models, registry.fallback_chains)
        feasible, rejected = evaluate(trimmed)
        assert "luma/ray-3.2" not in feasible
        assert rejected["luma/ray-3.2"] == [
            "unverified in the registry (set SHOTLINE_ALLOW_UNVERIFIED=1 to route to it)"
        ]
        opted_in = policy(Mode.PREVIEW, allow_unverified=True)
        feasible, rejected = evaluate(trimmed, pol=opted_in)
        assert "luma/ray-3.2" in feasible
        assert "luma/ray-3.2" not in rejected

    def test_per_shot_price_ceiling(self, registry):
        _, rejected = evaluate(registry, mode=Mode.FINAL, pol=policy(Mode.FINAL, max_shot_usd=1.0))
        assert rejected["google/veo-3.1"] == ["quote $1.60 over the per-shot ceiling $1.00"]

    def test_pinned_model(self, registry):
        decision = single(registry, model="kling/v3-pro", duration=5)
        assert [c.model_id for c in decision.candidates] == ["kling/v3-pro"]
        assert decision.rejected["google/veo-3.1"] == ["the shot pins model kling/v3-pro"]

    def test_pinned_model_unknown(self, registry):
        decision = single(registry, model="google/veo-3.1-fsat")
        assert not decision.routable
        assert decision.rejected["google/veo-3.1-fsat"] == [
            "pinned by the shot but not in the registry; did you mean google/veo-3.1-fast?"
        ]

    def test_size_over_the_local_maximum(self, registry):
        b = board([shot()], output={"size": "7680x4320"})
        decision = plan_for(b, registry, providers={"local"}).decisions["shot1"]
        assert decision.rejected["local/animatic"] == ["size 7680x4320 over 3840x2160"]

    def test_fps_when_the_policy_forbids_resampling(self, registry):
        pol = policy(allow_fps_change=False)
        b = board([shot()], output={"fps": 30})
        decision = plan_for(b, registry, providers=ALL, policy=pol).decisions["shot1"]
        assert decision.rejected["google/veo-3.1-fast"] == ["renders 24 fps, not 30"]
        assert decision.primary is not None
        assert decision.primary.model_id == "local/animatic"


class TestAdaptations:
    def test_duration_snaps_up_to_the_grid(self, registry):
        feasible, _ = evaluate(registry, duration=7)
        veo = feasible["google/veo-3.1-fast"]
        assert veo.duration_s == 8
        assert veo.adaptations == ["duration 7s -> 8s"]
        assert veo.quote_usd == pytest.approx(0.80)

    def test_padding_beyond_the_policy_is_refused(self, registry):
        _, rejected = evaluate(registry, duration=5.5, pol=policy(max_duration_pad_s=0.25))
        assert rejected["luma/ray-2"] == [
            "duration 5.5s needs 9s (5/9s), more than the 0.25s padding allowed"
        ]

    def test_trim_only_when_allowed(self, registry):
        feasible, _ = evaluate(
            registry, duration=5.2, pol=policy(max_duration_pad_s=0, max_duration_trim_s=0.5)
        )
        assert feasible["luma/ray-2"].adaptations[0] == "duration 5.2s -> 5s"
        _, rejected = evaluate(registry, duration=5.2, pol=policy(max_duration_pad_s=0))
        assert "luma/ray-2" in rejected

    def test_1080p_output_rendered_at_720p_only_when_allowed(self, registry):
        top = {"output": {"size": "1920x1080"}}
        preview = single(registry, model="runway/gen4.5", top=top, duration=5)
        assert preview.primary is not None
        assert preview.primary.adaptations == ["size 1920x1080 -> 1280x720 (upscaled at stitch)"]
        assert (preview.primary.width, preview.primary.height) == (1280, 720)
        final = single(registry, Mode.FINAL, model="runway/gen4.5", top=top, duration=5)
        assert final.rejected["runway/gen4.5"] == [
            "only renders 1280x720 for 1920x1080, and the policy forbids rescaling"
        ]

    def test_render_larger_and_downscale(self, registry):
        feasible, _ = evaluate(registry, duration=5)
        kling = feasible["kling/v3-pro"]
        assert kling.adaptations == ["size 1280x720 -> 1920x1080 (downscaled at stitch)"]
        assert kling.resolution == "1080p"

    def test_1080p_veo_needs_8_seconds(self, registry):
        decision = single(
            registry,
            Mode.FINAL,
            model="google/veo-3.1",
            top={"output": {"size": "1920x1080"}},
            duration=6,
        )
        primary = decision.primary
        assert primary is not None
        assert (primary.duration_s, primary.width, primary.adaptations) == (
            8,
            1920,
            ["duration 6s -> 8s"],
        )

    def test_fps_resampled(self, registry):
        b = board([shot()], output={"fps": 30})
        decision = plan_for(b, registry).decisions["shot1"]
        assert decision.primary is not None
        assert "fps 30 -> 24" in decision.primary.adaptations
        assert decision.primary.fps == 24

    def test_ambient_dropped_in_preview(self, registry):
        feasible, _ = evaluate(registry, audio="ambient", duration=5)
        ray = feasible["luma/ray-flash-2"]
        assert ray.adaptations == ["audio ambient -> none (model renders silent)"]
        assert ray.audio is False

    def test_adaptations_are_stored_with_the_decision(self, registry):
        decision = single(registry, duration=7, model="google/veo-3.1-fast")
        data = decision.to_dict()
        assert data["candidates"][0]["adaptations"] == ["duration 7s -> 8s"]
        assert data["explanation"]["chosen"]["adaptations"] == ["duration 7s -> 8s"]


LOCAL_SHOTS = [
    ({"duration": 0.5}, {}),
    ({"duration": 120, "audio": "ambient"}, {}),
    ({"audio": "dialogue", "dialogue": "We ride at dawn."}, {"output": {"size": "3840x2160"}}),
    ({"reference_image": "ref.png", "duration": 7.3}, {"output": {"size": "1080x1920", "fps": 30}}),
    ({"prompt": "x" * 20000}, {"output": {"size": "320x180", "fps": 12.5}}),
]


@pytest.mark.parametrize(("fields", "top"), LOCAL_SHOTS)
@pytest.mark.parametrize("mode", [Mode.PREVIEW, Mode.FINAL])
def test_local_mode_takes_every_valid_shot(registry, fields, top, mode):
    decision = single(registry, mode, {"local"}, top=top, **fields)
    primary = decision.primary
    assert primary is not None
    assert primary.model_id == "local/animatic"
    assert primary.adaptations == []
    assert primary.quote_usd == 0
    assert decision.rejected["google/veo-3.1"] == ["provider google is not enabled (--providers)"]


def test_hosted_only_never_offers_local(registry):
    decision = single(registry, providers=HOSTED)
    assert "local/animatic" in decision.rejected
    assert TODAY.year == 2026
