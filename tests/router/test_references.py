"""Issue 18's character references: a shot featuring a character with reference images is routed
only to models that take that many (`inputs.reference_images`), at the lengths they take them
(`inputs.reference_seconds`: Veo 3.1's asset images need 8 s); every other model says why."""

from __future__ import annotations

from foundation.storyboard import Mode
from tests.router.conftest import ALL, board, plan_for, shot

MARA = {"id": "mara", "description": "silver hair", "reference_images": ["front.png", "side.png"]}


def test_a_shot_with_references_goes_to_the_models_that_take_them(registry):
    b = board([shot("Mara at the dock", 8, characters=["mara"]), shot()], characters=[MARA])
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
    b = board([shot("Mara at the dock", 4, characters=["mara"])], characters=[MARA])
    result = plan_for(b, registry, Mode.FINAL, providers={"google"})
    (unroutable,) = result.unroutable
    assert unroutable.reasons["google/veo-3.1"] == [
        "duration 4s needs 8s (8s), more than the 3s padding allowed at 720p"
    ]


def test_previews_take_them_on_the_local_renderer(registry):
    b = board([shot("Mara at the dock", 4, characters=["mara"])], characters=[MARA])
    result = plan_for(b, registry, Mode.PREVIEW, providers=ALL)
    primary = result.decisions["shot1"].primary
    assert primary is not None
    assert primary.model_id == "local/animatic"  # takes 4 (and ignores them: a text card)
