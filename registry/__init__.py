"""The model catalog: capabilities, prices with sources, lifecycles and provider limits.

``load_registry()`` reads the built-in ``models.yaml`` plus an optional user file and validates it.
"""

from registry._billing import UNKNOWN_BILLING, BillingOutcome, BillingRules
from registry._catalog import BUILTIN, Registry, load_registry, price_gaps
from registry._image_target import ImageTarget, aspect_name, image_target
from registry._kinds import (
    ImageCaps,
    LlmCaps,
    ModelKind,
    MusicCaps,
    TtsCaps,
    UsageCost,
    UsagePricing,
    UsageRate,
)
from registry._pricing import (
    RESOLUTIONS,
    PricePoint,
    PriceQuote,
    PriceUnit,
    Pricing,
    resolution_label,
)
from registry._shapes import DurationSpec, SizeOption, SizeSpec
from registry._spec import (
    TIER_RANK,
    AudioSupport,
    Extend,
    Inputs,
    Lifecycle,
    LifecycleStatus,
    Limits,
    ModelSpec,
    Priors,
    PromptUnits,
    ProviderSpec,
    Speed,
    Submission,
    SubmissionMechanism,
    Tier,
    TypePrior,
    prompt_length,
)
from registry.errors import (
    PriceUnavailableError,
    RegistryError,
    RegistryFileError,
    UnknownModelError,
)

__all__ = [
    "BUILTIN",
    "RESOLUTIONS",
    "TIER_RANK",
    "UNKNOWN_BILLING",
    "AudioSupport",
    "BillingOutcome",
    "BillingRules",
    "DurationSpec",
    "Extend",
    "ImageCaps",
    "ImageTarget",
    "Inputs",
    "Lifecycle",
    "LifecycleStatus",
    "Limits",
    "LlmCaps",
    "ModelKind",
    "ModelSpec",
    "MusicCaps",
    "PricePoint",
    "PriceQuote",
    "PriceUnavailableError",
    "PriceUnit",
    "Pricing",
    "Priors",
    "PromptUnits",
    "ProviderSpec",
    "Registry",
    "RegistryError",
    "RegistryFileError",
    "SizeOption",
    "SizeSpec",
    "Speed",
    "Submission",
    "SubmissionMechanism",
    "Tier",
    "TtsCaps",
    "TypePrior",
    "UnknownModelError",
    "UsageCost",
    "UsagePricing",
    "UsageRate",
    "aspect_name",
    "image_target",
    "load_registry",
    "price_gaps",
    "prompt_length",
    "resolution_label",
]
