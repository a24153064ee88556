"""Per-shot routing: hard filter with recorded adaptations, scoring by intent, scene continuity,
fallback chains, circuit breakers, learned statistics and an explanation for every decision.

The router never touches HTTP or files; it reads the catalog through ``registry``.
"""

from router._candidate import Candidate, ShotNeed
from router._explain import group_reasons, why_lower
from router._filter import Fit, assess
from router._health import (
    HEALTH_KINDS,
    Breaker,
    BreakerConfig,
    BreakerState,
    BreakerStore,
    HealthBook,
    HealthSource,
    HealthView,
    MemoryBreakerStore,
)
from router._image_stage import ImageNeeds, route_image_stage
from router._long_shots import stored_parts
from router._plan import (
    attempts_for_confidence,
    forecast,
    plan,
    raise_if_unroutable,
    unroutable_message,
)
from router._policy import FINAL_WEIGHTS, PREVIEW_WEIGHTS, RoutingPolicy
from router._providers import (
    CHOICES,
    CREDENTIALS,
    HOSTED,
    Availability,
    enabled_providers,
    provider_availability,
)
from router._route import Evaluation, Router, pin_ignored, shot_need
from router._shot_type import infer_shot_type
from router._stage import (
    StageCandidate,
    StageDecision,
    hosted_first,
    route_stage,
    stage_providers,
)
from router._stats import ModelStats, Outcome, PriorStats, StatsBook, StatsSource
from router._types import Forecast, Plan, QuoteLine, ShotDecision, Unroutable
from router._variants import KEEP_MIN, VariantChoice, native_size, with_variants
from router.errors import RouterError, UnknownProvidersChoiceError, UnroutableShotsError

__all__ = [
    "CHOICES",
    "CREDENTIALS",
    "FINAL_WEIGHTS",
    "HEALTH_KINDS",
    "HOSTED",
    "KEEP_MIN",
    "PREVIEW_WEIGHTS",
    "Availability",
    "Breaker",
    "BreakerConfig",
    "BreakerState",
    "BreakerStore",
    "Candidate",
    "Evaluation",
    "Fit",
    "Forecast",
    "HealthBook",
    "HealthSource",
    "HealthView",
    "ImageNeeds",
    "MemoryBreakerStore",
    "ModelStats",
    "Outcome",
    "Plan",
    "PriorStats",
    "QuoteLine",
    "Router",
    "RouterError",
    "RoutingPolicy",
    "ShotDecision",
    "ShotNeed",
    "StageCandidate",
    "StageDecision",
    "StatsBook",
    "StatsSource",
    "UnknownProvidersChoiceError",
    "Unroutable",
    "UnroutableShotsError",
    "VariantChoice",
    "assess",
    "attempts_for_confidence",
    "enabled_providers",
    "forecast",
    "group_reasons",
    "hosted_first",
    "infer_shot_type",
    "native_size",
    "pin_ignored",
    "plan",
    "provider_availability",
    "raise_if_unroutable",
    "route_image_stage",
    "route_stage",
    "shot_need",
    "stage_providers",
    "stored_parts",
    "unroutable_message",
    "why_lower",
    "with_variants",
]
