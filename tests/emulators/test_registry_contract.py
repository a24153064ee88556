"""The registry and the emulators cannot drift apart: every request production builds is accepted.

For every hosted model and every capability it advertises (each size option, so each aspect ratio
and resolution; each duration allowed at that resolution; audio off and on; with and without an
image when it takes one), a one-shot storyboard pinned to the model is routed by the production
router, turned into the provider request by ``pipeline.requests.build_request`` and submitted by
the production adapter to a running emulator. A property test does the same for random valid
storyboards, submitting each routed shot's primary candidate.

Submit only: the emulator accepts each job and then fails it without rendering (see ``SCENARIO``),
so no clip is produced and nothing waits for one. Models the router will not route (retired,
upcoming, disabled, unverified without the opt-in) are skipped with the router's reason.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import router
from adapters.base import ProviderAdapter
from adapters.errors import ProviderError
from adapters.factory import HOSTED, build_adapter
from emulators import EmulatorHandle, Scenario, start_emulator
from foundation.settings import Settings
from foundation.storyboard import AudioNeed, Mode, ShotType, Storyboard
from pipeline.planning import candidate_record, route_record
from pipeline.requests import build_request
from registry import AudioSupport, DurationSpec, ModelSpec, Registry, SizeOption, load_registry

# Every job is accepted, then ends as a job failure, which the emulator decides without rendering.
SCENARIO = {"seed": 17, "defaults": {"faults": [{"kind": "job_failure", "rate": 1.0}]}}
CATALOG = load_registry()
HOSTED_MODELS = [m.id for m in CATALOG.models if m.provider in HOSTED]
STANDARD_SIZES = ((1280, 720), (720, 1280), (1920, 1080), (1080, 1920), (960, 960), (640, 480))


@dataclass(frozen=True)
class Capability:
    """One combination a model advertises, as the storyboard asks for it."""

    width: int
    height: int
    duration_s: float
    audio: AudioNeed
    image: bool

    @property
    def label(self) -> str:
        image = "+image" if self.image else ""
        return f"{self.width}x{self.height} {self.duration_s:g}s audio={self.audio}{image}"


@dataclass
class Harness:
    emulator: EmulatorHandle
    adapters: dict[str, ProviderAdapter]
    images: Path

    def image(self, width: int, height: int) -> Path:
        """A reference image of the output size (OpenAI wants it to match ``size`` exactly)."""
        path = self.images / f"ref-{width}x{height}.png"
        if not path.exists():
            cv2.imwrite(str(path), np.full((height, width, 3), (40, 120, 200), np.uint8))
        return path


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with start_emulator(Scenario.model_validate(SCENARIO)) as handle:
        plain = Settings(_env_file=None)
        adapters = {
            provider: build_adapter(provider, settings=plain, base_url=handle.base_urls[provider])
            for provider in HOSTED
        }
        yield Harness(handle, adapters, tmp_path_factory.mktemp("refs"))


def lengths(durations: DurationSpec) -> list[float]:
    if durations.grid:
        return list(durations.grid)
    if durations.step_s > 0:
        count = round((durations.max_s - durations.min_s) / durations.step_s)
        return [durations.min_s + i * durations.step_s for i in range(count + 1)]
    return sorted({durations.min_s, (durations.min_s + durations.max_s) / 2, durations.max_s})


def size_options(spec: ModelSpec) -> list[SizeOption]:
    if not spec.sizes.any_size:
        return list(spec.sizes.options)
    limit = (spec.sizes.max_width, spec.sizes.max_height)
    fitting = [(w, h) for w, h in STANDARD_SIZES if spec.sizes.fits_any(w, h)]
    return [SizeOption(w, h, f"{min(w, h)}p") for w, h in [*fitting, limit]]


def capabilities(spec: ModelSpec) -> list[Capability]:
    """Every size option with every duration allowed at its resolution, each paired with an audio
    and image choice so that every pair of values of any two dimensions is tried at least once
    (all pairs: the interactions providers refuse on are two-way, e.g. 1080p needs 8 s, a start
    frame forbids 10 s, an image must match the size). ``SHOTLINE_CONTRACT_FULL=1``: every
    combination."""
    audios = {
        AudioSupport.NONE: [AudioNeed.NONE],
        AudioSupport.OPTIONAL: [AudioNeed.NONE, AudioNeed.AMBIENT],
        AudioSupport.ALWAYS: [AudioNeed.AMBIENT],
    }[spec.audio]
    if spec.dialogue:
        audios = [*audios, AudioNeed.DIALOGUE]
    images = (
        [True] if spec.inputs.image_required else [False, True] if spec.inputs.image else [False]
    )
    shapes = [
        (option.width, option.height, seconds)
        for option in size_options(spec)
        for seconds in lengths(spec.durations_for(option.resolution))
    ]
    extras = list(itertools.product(audios, images))
    if os.environ.get("SHOTLINE_CONTRACT_FULL") == "1":
        return [
            Capability(w, h, s, a, i) for (w, h, s), (a, i) in itertools.product(shapes, extras)
        ]
    return all_pairs(shapes, extras)


def _pairs(cap: Capability) -> set[tuple[object, object]]:
    size = (cap.width, cap.height)
    return {
        (size, cap.audio),
        (size, cap.image),
        (cap.duration_s, cap.audio),
        (cap.duration_s, cap.image),
        (cap.audio, cap.image),
    }


def all_pairs(
    shapes: list[tuple[int, int, float]], extras: list[tuple[AudioNeed, bool]]
) -> list[Capability]:
    """Greedy all-pairs: each shape once with the extra covering the most new pairs, then extra
    rows until every feasible pair is covered."""
    every = [Capability(w, h, s, a, i) for (w, h, s) in shapes for (a, i) in extras]
    needed = set().union(*(_pairs(cap) for cap in every))
    chosen: list[Capability] = []
    for w, h, s in shapes:
        options = [Capability(w, h, s, a, i) for a, i in extras]
        best = max(options, key=lambda cap: len(_pairs(cap) & needed))
        chosen.append(best)
        needed -= _pairs(best)
    while needed:
        best = max(every, key=lambda cap: len(_pairs(cap) & needed))
        chosen.append(best)
        needed -= _pairs(best)
    return chosen


def shot(key: str, seconds: float, audio: AudioNeed, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": key, "prompt": f"a lighthouse at dusk, {key}"}
    body.update(duration=seconds, audio=str(audio), **extra)
    if audio is AudioNeed.DIALOGUE:
        body["dialogue"] = "The light is still on."
    return body


def plan(board: Storyboard, registry: Registry, mode: Mode) -> router.Plan:
    """Route as production does for ``--providers emulated`` (default routing policy for the
    mode: no unverified models without the user's opt-in)."""
    availability = router.provider_availability("emulated", Settings(_env_file=None))
    return router.plan(
        board,
        registry,
        mode=mode,
        providers=availability.enabled,
        unavailable=availability.unavailable,
        policy=router.RoutingPolicy.for_mode(mode),
    )


def stored_shots(board: Storyboard) -> dict[str, dict[str, Any]]:
    """Each shot as the job row stores it (``create_job``: ``board.model_dump(mode="json")``)."""
    dumped = board.model_dump(mode="json")
    return {body["id"]: body for scene in dumped["scenes"] for body in scene["shots"]}


def submit(harness: Harness, decision: router.ShotDecision, shot_spec: dict[str, Any]) -> str:
    """Production's request for the primary candidate, sent by the production adapter."""
    candidate = candidate_record(decision.candidates[0])
    request = build_request(shot_spec, candidate, route_record(decision))
    return harness.adapters[candidate.provider].submit(request)


def board_for(spec: ModelSpec, width: int, height: int, shots: list[dict[str, Any]]) -> Storyboard:
    fps = spec.fps[0] if spec.fps else 24
    return Storyboard.model_validate(
        {
            "title": f"contract {spec.id}",
            "mode": "final",
            "output": {"size": f"{width}x{height}", "fps": fps},
            "scenes": [{"id": f"s{i}", "shots": [body]} for i, body in enumerate(shots)],
        }
    )


Routed = tuple[str, router.ShotDecision, dict[str, Any]]


def route_capabilities(harness: Harness, spec: ModelSpec) -> tuple[list[Routed], list[str]]:
    """Each capability as a pinned shot, routed (one storyboard per output size); the routed
    shots and the problems (not routable, or adapted: then the registry advertises what the router
    will not send as asked)."""
    routed: list[Routed] = []
    problems: list[str] = []
    by_size: dict[tuple[int, int], list[Capability]] = {}
    for cap in capabilities(spec):
        by_size.setdefault((cap.width, cap.height), []).append(cap)
    for (width, height), caps in by_size.items():
        image = str(harness.image(width, height))
        shots = [
            shot(f"c{i}", cap.duration_s, cap.audio, model=spec.id)
            | ({"reference_image": image} if cap.image else {})
            for i, cap in enumerate(caps)
        ]
        board = board_for(spec, width, height, shots)
        decisions, stored = plan(board, CATALOG, Mode.FINAL).decisions, stored_shots(board)
        for cap, body in zip(caps, shots, strict=True):
            decision = decisions[body["id"]]
            if not decision.routable:
                reasons = decision.rejected.get(spec.id, ["no reason"])
                if _gated(reasons):
                    pytest.skip(f"the router does not route {spec.id}: {reasons[0]}")
                problems.append(f"{cap.label}: not routable: {reasons}")
            elif decision.candidates[0].adaptations:
                problems.append(f"{cap.label}: adapted: {decision.candidates[0].adaptations}")
            else:
                routed.append((cap.label, decision, stored[body["id"]]))
    return routed, problems


@pytest.mark.parametrize("model_id", HOSTED_MODELS)
def test_every_advertised_capability_is_accepted(harness: Harness, model_id: str):
    routed, problems = route_capabilities(harness, CATALOG.get(model_id))

    def attempt(item: Routed) -> str | None:
        label, decision, shot_spec = item
        try:
            return None if submit(harness, decision, shot_spec) else f"{label}: no job id"
        except ProviderError as exc:
            return f"{label}: refused: {exc}"

    before = sum(harness.emulator.stats()["accepted"].values())
    with ThreadPoolExecutor(max_workers=4) as pool:  # the emulator answers in ~ms; hide latency
        problems += [problem for problem in pool.map(attempt, routed) if problem]
    assert not problems, f"{model_id}:\n" + "\n".join(problems)
    assert sum(harness.emulator.stats()["accepted"].values()) - before == len(routed)


def _gated(reasons: list[str]) -> bool:
    """The router refused the model as a whole (lifecycle, disabled, unverified), not the shot."""
    whole = ("retired on", "not available until", "disabled in", "unverified in the registry")
    return any(reason.startswith(whole) for reason in reasons)


SIZES = st.sampled_from(["1280x720", "720x1280", "1920x1080", "1080x1920", "960x960", "3840x2160"])
PINS = st.one_of(st.none(), st.none(), st.sampled_from(HOSTED_MODELS))
SHOTS = st.fixed_dictionaries(
    {
        "duration": st.sampled_from([1.5, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12]),
        "audio": st.sampled_from(list(AudioNeed)),
        "type": st.one_of(st.none(), st.sampled_from([str(t) for t in ShotType])),
        "image": st.booleans(),
        "model": PINS,
        "seed": st.one_of(st.none(), st.integers(0, 2**32 - 1)),
        "negative_prompt": st.one_of(st.none(), st.just("blurry, text overlays")),
    }
)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    size=SIZES,
    fps=st.sampled_from([24, 25, 30]),
    mode=st.sampled_from(list(Mode)),
    shots=st.lists(SHOTS, min_size=1, max_size=3),
)
def test_every_routed_request_is_accepted(
    harness: Harness, size: str, fps: int, mode: Mode, shots: list[dict[str, Any]]
):
    width, height = (int(side) for side in size.split("x"))
    image = str(harness.image(width, height))
    bodies = []
    for i, drawn in enumerate(shots):
        optional = ("type", "model", "seed", "negative_prompt")
        extra = {k: drawn[k] for k in optional if drawn[k] is not None}
        if drawn["image"]:
            extra["reference_image"] = image
        bodies.append(shot(f"p{i}", drawn["duration"], AudioNeed(drawn["audio"]), **extra))
    board = Storyboard.model_validate(
        {
            "title": "property",
            "mode": str(mode),
            "output": {"size": size, "fps": fps},
            "scenes": [{"id": "s", "shots": bodies}],
        }
    )
    routed = plan(board, CATALOG, mode)
    stored = stored_shots(routed.board)  # a long shot is stored as its segments
    for key, body in stored.items():
        decision = routed.decisions[key]
        if not decision.routable or decision.candidates[0].provider not in HOSTED:
            continue
        if body.get("continues"):  # production sends the previous clip's last frame
            body = body | {"reference_image": image}
        label = f"{decision.candidates[0].model_id} for {size}@{fps} {body}"
        try:
            assert submit(harness, decision, body), label
        except ProviderError as exc:
            pytest.fail(f"{label}: refused: {exc}")
