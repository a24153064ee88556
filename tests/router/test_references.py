"""Issue 18's character references: a shot featuring a character with reference images and no first
frame (``keyframe: none``) is routed only to models that take that many
(`inputs.reference_images`), at the lengths and aspects they take them (`inputs.reference_seconds`,
`inputs.reference_aspects`: Veo 3.1's asset images need 8 s at 16:9); every other model says why.
A shot with a first frame (its keyframe, drawn from the references) needs none of them."""

from __future__ import annotations

from foundation.storyboard import Mode
from tests.router.conftest import ALL, board, plan_for, shot

MARA = {"id": "mara", "description": "silver hair", "reference_images": ["front.png", "side.png"]}


def test_a_shot_with_references_goes_to_the_models_that_take_them(registry):
    b = board([shot("Mara at the dock", 8, characters=["mara"], keyframe="none"), shot()],
              characters=[MARA])  # fmt: skip
    result = plan_for(b, registry, Mode.FINAL, providers={"google", "kling", "runway"})
    assert result.ok
    featured, plain = result.decisions["shot1"], result.decisions["shot2"]
    assert [c.model_id for c in featured.candidates] == ["google/veo-3.1", "google/veo-3.1-fast"]
    assert all(c.duration_s == 8 for c in featured.candidates)
    reasons = featured.to_dict()["rejected"]
    why = "takes 0 character reference images, the shot's characters have 2"
    assert why in reasons["google/veo-3.1-lite"]
    assert why in reasons["kling/v3-std"]
    assert len(plain.candidates) > 2  # the shot without Mara is routed as before


def test_a_length_veo_does_not_take_with_references_is_refused_with_the_reason(registry):
    b = board([shot("Mara at the dock", 4, characters=["mara"], keyframe="none")],
              characters=[MARA])  # fmt: skip
    result = plan_for(b, registry, Mode.FINAL, providers={"google"})
    (unroutable,) = result.unroutable
    assert unroutable.reasons["google/veo-3.1"] == [
        "duration 4s needs 8s (8s), more than the 3s padding allowed at 720p"
    ]


def test_previews_take_them_on_the_local_renderer(registry):
    b = board([shot("Mara at the dock", 4, characters=["mara"], keyframe="none")],
              characters=[MARA])  # fmt: skip
    result = plan_for(b, registry, Mode.PREVIEW, providers=ALL)
    primary = result.decisions["shot1"].primary
    assert primary is not None
    assert primary.model_id == "local/animatic"  # takes 4 (and ignores them: a text card)


def test_a_portrait_shot_is_not_given_references_on_veo(registry):
    """[DOC-VEO31] "9:16, except for reference image to video"."""
    b = board([shot("Mara at the dock", 8, characters=["mara"], keyframe="none")],
              characters=[MARA], output={"size": "720x1280"})  # fmt: skip
    result = plan_for(b, registry, Mode.FINAL, providers={"google"})
    (unroutable,) = result.unroutable
    assert (
        "takes character reference images only at 16:9, not 9:16"
        in (unroutable.reasons["google/veo-3.1"])
    )


def test_a_keyframed_shot_needs_no_reference_images(registry):
    """Its keyframe is drawn from the references, so any image-to-video model animates it, at
    any length: Veo, which takes a first frame or references and never both (google-genai 3.6.1
    ``GenerateVideosConfig.reference_images``), was the only model left, at 8 s, and was sent
    both."""
    b = board([shot("Mara at the dock", 4, characters=["mara"])], characters=[MARA])
    result = plan_for(b, registry, Mode.FINAL, providers={"google", "kling"})
    assert result.ok
    decision = result.decisions["shot1"]
    chosen = {c.model_id: c.duration_s for c in decision.candidates}
    assert chosen.get("google/veo-3.1-fast") == 4
    assert any(model.startswith("kling/") for model in chosen)
