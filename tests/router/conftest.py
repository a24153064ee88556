"""Router test helpers: the built-in registry, a fixed 'today', and a small storyboard builder."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

import router
from foundation.storyboard import Mode, Storyboard, parse_storyboard
from registry import Registry, load_registry

TODAY = date(2026, 11, 21)
ALL = set(router.HOSTED) | {"local"}
HOSTED = set(router.HOSTED)


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_registry()


def board(*scenes: list[dict[str, Any]], **top: Any) -> Storyboard:
    """``board([shot, shot], [shot])``: one list of shot dicts per scene; ids are filled in."""
    data: dict[str, Any] = {"title": "test", **top, "scenes": []}
    counter = 0
    for s_index, shots in enumerate(scenes):
        filled = []
        for shot in shots:
            counter += 1
            filled.append({"id": f"shot{counter}", **shot})
        data["scenes"].append({"id": f"scene{s_index + 1}", "shots": filled})
    return parse_storyboard(data)


def shot(
    prompt: str = "a quiet street at dusk", duration: float = 4, **extra: Any
) -> dict[str, Any]:
    return {"prompt": prompt, "duration": duration, **extra}


def policy(mode: Mode = Mode.PREVIEW, **overrides: Any) -> router.RoutingPolicy:
    overrides.setdefault("today", TODAY)
    return router.RoutingPolicy.for_mode(mode, **overrides)


def plan_for(
    b: Storyboard,
    registry: Registry,
    mode: Mode = Mode.PREVIEW,
    providers: set[str] | None = None,
    **kwargs: Any,
) -> router.Plan:
    pol = kwargs.pop("policy", None) or policy(mode)
    return router.plan(b, registry, mode=mode, providers=providers or HOSTED, policy=pol, **kwargs)


def single(
    registry: Registry,
    mode: Mode = Mode.PREVIEW,
    providers: set[str] | None = None,
    top: dict[str, Any] | None = None,
    pol: router.RoutingPolicy | None = None,
    **shot_fields: Any,
) -> router.ShotDecision:
    """Route one shot; returns its decision."""
    b = board([shot(**shot_fields)], **(top or {}))
    result = plan_for(b, registry, mode, providers, policy=pol or policy(mode))
    return result.decisions["shot1"]
