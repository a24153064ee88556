from __future__ import annotations

import contextlib
import tempfile
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import registry
from foundation.settings import get_settings
from registry import (
    AudioSupport,
    LifecycleStatus,
    PriceUnavailableError,
    RegistryFileError,
    Tier,
    UnknownModelError,
    load_registry,
)
from tests.shapes import OTHER_VALUES, REMOVED, swapped_at

TODAY = date(2026, 11, 21)
REQUIRED = {
    "google/veo-3.1": "veo-3.1-generate-001",
    "google/veo-3.1-fast": "veo-3.1-fast-generate-001",
    "google/veo-3.1-lite": "veo-3.1-lite-generate-001",
    "runway/gen4.5": "gen4.5",
    "runway/gen4_turbo": "gen4_turbo",
    "runway/veo3.1": "veo3.1",
    "runway/veo3.1_fast": "veo3.1_fast",
    "kling/v3-std": "kling-3.0",
    "kling/v3-pro": "kling-3.0",
    "kling/3.0-turbo": "kling-3.0-turbo",
    "luma/ray-2": "ray-2",
    "luma/ray-flash-2": "ray-flash-2",
    "luma/ray-3.2": "ray-3.2",
    "fal/veo3-fast": "fal-ai/veo3/fast",
    "fal/veo3": "fal-ai/veo3",
    "fal/veo3.1-fast": "fal-ai/veo3.1/fast",
    "fal/veo3.1": "fal-ai/veo3.1",
    "openai/sora-2": "sora-2",
    "openai/sora-2-pro": "sora-2-pro",
    "local/animatic": "animatic",
}


@pytest.fixture(scope="module")
def catalog() -> registry.Registry:
    return load_registry()


class TestBuiltin:
    def test_lists_the_required_models_with_vendor_names(self, catalog):
        for model_id, vendor in REQUIRED.items():
            assert catalog.get(model_id).provider_model == vendor
        assert any(m.provider == "replicate" for m in catalog)
        video = {m.provider for m in catalog if m.kind is registry.ModelKind.VIDEO}
        assert catalog.providers == video | {"gemini", "elevenlabs"}
        assert video == {
            "google",
            "runway",
            "kling",
            "luma",
            "fal",
            "replicate",
            "openai",
            "local",
        }

    def test_every_price_has_source_and_effective_date(self, catalog):
        for spec in catalog:
            for point in spec.price.points:
                assert len(point.source) > 3, spec.id
                assert date(2020, 1, 1) < point.effective <= TODAY, spec.id

    def test_sora_is_kept_but_retired(self, catalog):
        for model_id in ("openai/sora-2", "openai/sora-2-pro"):
            spec = catalog.get(model_id)
            assert spec.lifecycle.retired_on == date(2026, 9, 24)
            assert spec.lifecycle.status(TODAY) is LifecycleStatus.RETIRED
            assert spec.lifecycle.status(date(2026, 9, 1)) is LifecycleStatus.DEPRECATED
        assert "openai/sora-2" not in {m.id for m in catalog.routable(TODAY)}

    def test_veo_lite_is_upcoming_before_its_launch(self, catalog):
        lite = catalog.get("google/veo-3.1-lite")
        assert lite.lifecycle.status(date(2026, 3, 1)) is LifecycleStatus.UPCOMING
        assert lite.lifecycle.status(TODAY) is LifecycleStatus.ACTIVE

    def test_local_animatic_contract(self, catalog):
        local = catalog.get("local/animatic")
        assert local.provider == "local"
        assert local.tier is Tier.DRAFT
        assert local.durations.allows(0.5)
        assert local.durations.allows(120)
        assert local.sizes.fits_any(3840, 2160)
        assert not local.sizes.fits_any(3842, 2160)
        assert local.fps == ()
        assert local.audio is AudioSupport.OPTIONAL
        assert local.dialogue
        assert local.seed
        assert local.inputs.image
        assert not local.inputs.image_ignored  # the animatic starts from its first frame
        assert local.quote(120, width=3840, height=2160, audio=True) == 0

    def test_limits_are_exposed(self, catalog):
        veo = catalog.get("google/veo-3.1-fast")
        assert veo.limits.concurrency == 10
        assert veo.limits.rpm == 10
        assert catalog.get("runway/gen4.5").limits.rpm == 60

    def test_unknown_model_suggests_a_close_id(self, catalog):
        with pytest.raises(UnknownModelError, match=r"did you mean 'google/veo-3\.1-fast'"):
            catalog.get("google/veo-3.1-fsat")

    def test_catalog_serialises(self, catalog):
        data = catalog.to_dict()
        assert len(data["models"]) == len(catalog)
        assert data["fallback_chains"]["premium"][0] == "google/veo-3.1"


class TestQuotes:
    def test_per_second_by_resolution(self, catalog):
        veo = catalog.get("google/veo-3.1-fast")
        assert veo.quote(8, "720p") == pytest.approx(0.80)
        assert veo.quote(8, width=1920, height=1080) == pytest.approx(0.96)
        assert veo.quote(8, "4k") == pytest.approx(2.40)

    def test_price_history_uses_the_point_in_force(self, catalog):
        veo = catalog.get("google/veo-3.1-fast")
        old = veo.quote_detail(8, "720p", on=date(2026, 1, 15))
        assert old.usd == pytest.approx(1.20)
        assert old.effective == date(2025, 10, 15)
        assert veo.quote_detail(8, "720p", on=TODAY).effective == date(2026, 4, 7)

    def test_credits_and_audio(self, catalog):
        assert catalog.get("runway/gen4.5").quote(10, "720p") == pytest.approx(1.20)
        runway_veo = catalog.get("runway/veo3.1")
        assert runway_veo.quote(8, "720p", audio=False) == pytest.approx(1.60)
        assert runway_veo.quote(8, "720p", audio=True) == pytest.approx(3.20)
        detail = runway_veo.quote_detail(8, "720p", audio=True)
        assert detail.unit == "credits_per_second"
        assert detail.rate == 40

    def test_audio_forced_for_always_models(self, catalog):
        google = catalog.get("google/veo-3.1")
        assert google.quote_detail(4, "720p", audio=False).audio is True

    def test_per_request_rows_by_length(self, catalog):
        ray = catalog.get("luma/ray-2")
        assert ray.quote(5, "720p") == pytest.approx(0.71)
        assert ray.quote(9, "720p") == pytest.approx(1.28)
        assert ray.quote_detail(9, "720p").certainty == "estimate"
        with pytest.raises(PriceUnavailableError, match="no per-request price covers 12s"):
            ray.quote(12, "720p")

    def test_unpriced_combination(self, catalog):
        with pytest.raises(PriceUnavailableError, match="no price for 4k"):
            catalog.get("google/veo-3.1-lite").quote(8, "4k")


class TestDurations:
    def test_grid(self, catalog):
        grid = catalog.get("google/veo-3.1").durations
        assert (grid.above(7), grid.below(7), grid.above(9)) == (8, 6, None)
        assert grid.allows(6)
        assert not grid.allows(7)

    def test_range_with_step(self, catalog):
        steps = catalog.get("runway/gen4.5").durations
        assert steps.above(7.2) == 8
        assert steps.below(7.2) == 7
        assert steps.above(1) == 2
        assert steps.above(11) is None
        assert steps.allows(5)
        assert not steps.allows(5.5)

    def test_per_resolution_durations(self, catalog):
        veo = catalog.get("google/veo-3.1")
        assert veo.durations_for("1080p").grid == (8,)
        assert veo.durations_for("720p").grid == (4, 6, 8)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "user.yaml"
    path.write_text(text, encoding="utf-8")
    return path


class TestUserFile:
    def test_overrides_a_field_and_adds_a_model(self, tmp_path):
        path = _write(
            tmp_path,
            """
models:
  - id: runway/gen4.5
    limits: {concurrency: 20}
  - id: runway/my-proxy
    provider: runway
    provider_model: gen4.5
    tier: high
    speed: fast
    durations: {min: 2, max: 10, step: 1}
    sizes: ["1280x720"]
    max_prompt_chars: 1000
    limits: {concurrency: 4}
    price: {unit: per_second, source: "our contract 2026", effective: 2026-10-01,
            rates: [{rate: 0.08}]}
fallback_chains:
  high: [runway/my-proxy]
""",
        )
        merged = load_registry(path)
        assert merged.get("runway/gen4.5").limits.concurrency == 20
        assert merged.get("runway/gen4.5").limits.rpm == 60
        assert merged.get("runway/gen4.5").price.points[0].rate == 12
        assert merged.get("runway/my-proxy").quote(10) == pytest.approx(0.8)
        assert merged.chain(Tier.HIGH) == ("runway/my-proxy",)
        assert merged.sources[-1] == path

    def test_picked_up_from_the_environment(self, tmp_path, monkeypatch):
        path = _write(tmp_path, "models:\n  - id: local/animatic\n    enabled: false\n")
        monkeypatch.setenv("SHOTLINE_REGISTRY", str(path))
        get_settings.cache_clear()
        assert load_registry().get("local/animatic").enabled is False

    def test_an_edited_file_is_read_again_and_an_unchanged_one_is_not(self, tmp_path):
        path = _write(tmp_path, "models:\n  - id: local/animatic\n    enabled: false\n")
        first = load_registry(path)
        assert load_registry(path) is first, "an unchanged file gives the same registry"
        path.write_text("models:\n  - id: local/animatic\n    enabled: true\n", encoding="utf-8")
        assert load_registry(path).get("local/animatic").enabled is True
        path.write_text("models: [{id: 7}]\n", encoding="utf-8")
        with pytest.raises(RegistryFileError):
            load_registry(path)


class TestMalformed:
    def _problems(self, tmp_path: Path, text: str) -> list[str]:
        with pytest.raises(RegistryFileError) as info:
            load_registry(_write(tmp_path, text))
        assert info.value.exit_code == 2
        return [str(p) for p in info.value.problems]

    def test_names_model_and_field(self, tmp_path):
        problems = self._problems(
            tmp_path, "models:\n  - id: runway/gen4.5\n    price: {rates: [{rate: -1}]}\n"
        )
        assert any(
            "(runway/gen4.5).price.rates[0].rate" in p and "greater than or equal to 0" in p
            for p in problems
        ), problems

    def test_unknown_field(self, tmp_path):
        problems = self._problems(tmp_path, "models:\n  - id: luma/ray-2\n    colour: red\n")
        assert any("(luma/ray-2).colour: unknown field" in p for p in problems), problems

    def test_missing_price_source(self, tmp_path):
        problems = self._problems(
            tmp_path,
            "models:\n  - id: fal/veo3\n    price: {source: null, rates: [{rate: 0.1}]}\n",
        )
        assert any("(fal/veo3).price" in p and "no source" in p for p in problems), problems

    def test_price_gap_for_an_offered_resolution(self, tmp_path):
        problems = self._problems(
            tmp_path, "models:\n  - id: google/veo-3.1-lite\n    resolutions: [720p, 1080p, 4k]\n"
        )
        assert any(
            "(google/veo-3.1-lite).price: no price for 4k with audio" in p for p in problems
        ), problems

    def test_unknown_resolution_and_duplicate_id(self, tmp_path):
        problems = self._problems(
            tmp_path,
            "models:\n  - id: kling/v3-std\n    resolutions: [8k]\n  - id: kling/v3-std\n",
        )
        assert any("unknown resolution '8k'" in p for p in problems), problems
        assert any("duplicate model id" in p for p in problems), problems

    def test_lifecycle_order_and_chain_ids(self, tmp_path):
        problems = self._problems(
            tmp_path,
            "models:\n  - id: luma/ray-2\n    lifecycle: {deprecated_from: 2027-01-01,"
            " retired_on: 2026-01-01}\n",
        )
        assert any("(luma/ray-2).lifecycle" in p for p in problems), problems
        problems = self._problems(tmp_path, "fallback_chains:\n  high: [nobody/none]\n")
        assert problems == ["fallback_chains.high[0]: unknown model 'nobody/none'"]

    @pytest.mark.parametrize(
        ("entry", "field", "said"),
        [
            ("durations: {grid: [4, 1.0e+30]}", "durations.grid[1]", "less than or equal to 3600"),
            ("durations: {min: 1, max: .inf}", "durations.max", "finite number"),
            ("price: {rates: [{rate: 1.0e+30}]}", "price.rates[0].rate", "less than or equal"),
            ("price: {rates: [{rate: .inf}]}", "price.rates[0].rate", "finite number"),
            ("price: {rates: [{rate: 0.1, seconds: .nan}]}", "price.rates[0].seconds", "finite"),
        ],
    )
    def test_a_length_or_price_past_what_money_can_hold_is_named(
        self, tmp_path, entry, field, said
    ):
        """A clip of 10**30 s or an infinite rate raised ``decimal.InvalidOperation`` out of the
        registry's price check (found by swapping values of built-in entries)."""
        problems = self._problems(tmp_path, f"models:\n  - id: runway/veo3.1\n    {entry}\n")
        assert any(f"(runway/veo3.1).{field}" in p and said in p for p in problems), problems

    @settings(max_examples=12, derandomize=True, deadline=None)  # a registry builds in ~0.15 s
    @given(
        which=st.integers(min_value=0),
        where=st.integers(min_value=0),
        value=st.one_of(st.just(REMOVED), OTHER_VALUES),
    )
    def test_a_built_in_entry_with_one_value_swapped_loads_or_is_refused(
        self, which: int, where: int, value: object
    ):
        """A user file that copies a built-in entry and changes one value to another type (or
        removes it) gives a registry or a ``RegistryFileError``, nothing else."""
        entries = yaml.safe_load(registry.BUILTIN.read_text(encoding="utf-8"))["models"]
        edited = swapped_at({"models": [entries[which % len(entries)]]}, where, value)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "models.yaml"
            path.write_text(yaml.safe_dump(edited, allow_unicode=True), encoding="utf-8")
            with contextlib.suppress(RegistryFileError):
                load_registry(path)

    def test_not_yaml_and_missing_file(self, tmp_path):
        assert "cannot be read as YAML" in self._problems(tmp_path, "models: [\n")[0]
        with pytest.raises(RegistryFileError, match="invalid"):
            load_registry(tmp_path / "absent.yaml")


def test_public_names_match_all():
    public = {name for name in dir(registry) if not name.startswith("_")}
    modules = {"errors"}
    assert set(registry.__all__) == public - modules
