"""Luma ray-3.2's forward extension on the Agents API (emulators/routes/_luma_extend.py): the
adapter extends a completed generation by its id, the emulator answers with the 5 s extension
alone starting from that generation's last frame, and refuses what Luma refuses (an unknown or
another caller's generation, one not completed, not a ray-3.2 video, 10 s, HDR, past the total
cap) with a 422 ``{"detail": ...}`` (the status is UNCERTAIN, see the module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from adapters.base import GenerationRequest, JobState
from adapters.luma import LumaAdapter
from emulators import EmulatorHandle, start_emulator
from emulators.scenario import Scenario
from registry import load_registry
from tests import web
from tests.e2e.long_takes import corner
from tests.emulators.test_sdks import until
from tests.emulators.test_strict_luma import agents, video

KEY = {"Authorization": "Bearer key"}


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    scenario = Scenario.model_validate(
        {
            "providers": {"luma": {"latency": {"seconds": 0.0}}},
            "models": {"ray-3.2-slow": {"latency": {"seconds": 3600.0}}},
            "media": {"max_side": 160},
        }
    )
    with start_emulator(scenario) as handle:
        yield handle


def completed(emulator: EmulatorHandle, body: dict[str, Any]) -> dict[str, Any]:
    created = agents(emulator, body)
    assert created.status_code == 201, created.text
    url = f"{emulator.base_urls['luma']}/v1/generations/{created.json()['id']}"
    return until(lambda: web.get(url, headers=KEY).json(), lambda g: g["state"] == "completed")


def extension(gen_id: str, **options: Any) -> dict[str, Any]:
    body = video(start_frame={"generation_id": gen_id}, **options)
    del body["aspect_ratio"]  # the source's (ComfyUI LumaRay32ExtendVideoNode)
    return body


def edge_frames(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with av.open(str(path)) as container:
        frames = [corner(f) for f in container.decode(video=0)]
    return frames[0], frames[-1]


def download(url: str, out: Path) -> Path:
    out.write_bytes(web.get(url).content)
    return out


@pytest.fixture(scope="module")
def source(emulator: EmulatorHandle) -> dict[str, Any]:
    return completed(emulator, video())


def pictures(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The first and the last frame."""
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    return frames[0].astype(int), frames[-1].astype(int)


def bar_change(a: np.ndarray, b: np.ndarray) -> float:
    """The median colour change along the bottom three rows, where the animatic's progress bar
    runs: empty on a clip's first frame, full on its last. A disc drawn over part of the rows
    moves no median."""
    return float(np.median(np.abs(a[-3:] - b[-3:]).max(axis=2)))


def test_the_extension_is_five_seconds_from_the_source_last_frame(emulator, source, tmp_path):
    extended = completed(emulator, extension(source["id"]))
    first = download(source["output"][0]["url"], tmp_path / "first.mp4")
    new = download(extended["output"][0]["url"], tmp_path / "new.mp4")
    with av.open(str(new)) as container:
        stream = container.streams.video[0]
        seconds = float(container.duration or 0) / av.time_base
        size = (stream.codec_context.width, stream.codec_context.height)
    assert abs(seconds - 5.0) < 0.1  # the extension alone, not the source followed by it
    with av.open(str(first)) as container:
        stream = container.streams.video[0]
        assert size == (stream.codec_context.width, stream.codec_context.height)
    opening, last = pictures(first)
    start, _ = pictures(new)
    assert bar_change(opening, last) > 20  # the source moves: the comparison means something
    assert bar_change(last, start) < 6  # the extension continues from the source's last frame


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"duration": "10s"}, "10s"),
        ({"hdr": True}, "dynamic range"),
    ],
)
def test_an_extension_is_five_seconds_and_sdr(emulator, source, change, words):
    answer = agents(emulator, extension(source["id"], **change))
    assert answer.status_code == 422
    assert set(answer.json()) == {"detail"}
    assert words in answer.json()["detail"]


def test_unknown_foreign_unfinished_and_non_ray_generations_are_refused(emulator, source):
    unknown = agents(emulator, extension("00000000-0000-0000-0000-000000000000"))
    foreign = agents(emulator, extension(source["id"]), key="Bearer someone-else")
    slow = agents(emulator, {**video(), "model": "ray-3.2-slow"})
    unfinished = agents(emulator, extension(slow.json()["id"]))
    legacy = web.post(
        f"{emulator.base_urls['luma']}/dream-machine/v1/generations/video",
        json={"model": "ray-2", "prompt": "a kite", "duration": "5s"}, headers=KEY,
    )  # fmt: skip
    dream = agents(emulator, extension(legacy.json()["id"]))
    for answer, words in [(unknown, "not found"), (foreign, "not found"),
                          (unfinished, "not completed"), (dream, "not a ray-3.2")]:  # fmt: skip
        assert answer.status_code == 422, answer.text
        assert set(answer.json()) == {"detail"}
        assert words in answer.json()["detail"]


def test_a_chain_past_the_total_cap_is_refused(emulator):
    """10 s + 4 extensions of 5 s make the 30 s cap; a fifth is refused (the cap: UNCERTAIN)."""
    gen = completed(emulator, video(duration="10s"))
    for _ in range(4):
        gen = completed(emulator, extension(gen["id"]))
    answer = agents(emulator, extension(gen["id"]))
    assert answer.status_code == 422
    assert "35s, over 30s" in answer.json()["detail"]


EXTENDING = [s for s in load_registry() if s.extend is not None and s.provider == "luma"]


def settled(adapter: LumaAdapter, job: str) -> JobState:
    pending = (JobState.QUEUED, JobState.RUNNING)
    return until(lambda: adapter.poll(job), lambda s: s.state not in pending).state


@pytest.mark.parametrize("spec", EXTENDING, ids=[spec.id for spec in EXTENDING])
def test_the_adapter_extends_the_previous_generation_by_id(emulator, source, spec):
    """Every Luma model with ``extend``, at each resolution it extends at: the request the
    emulator accepts, carrying the generation id from the previous part's job id."""
    assert spec.extend is not None
    assert spec.extend.input == "generation"
    assert spec.extend.returns == "extension"
    adapter = LumaAdapter(api_key="key", base_url=emulator.base_urls["luma"])
    for option in spec.sizes.options:
        if option.resolution not in spec.extend.resolutions:
            continue
        request = GenerationRequest(
            shot_id="take.part2", prompt="the kite climbs", duration_s=spec.extend.seconds,
            width=option.width, height=option.height, fps=24, model=spec.id,
            provider_model=spec.provider_model, extend_job=f"agents/{source['id']}",
        )  # fmt: skip
        body = adapter._agents_body(request, spec.provider_model)
        assert body["video"]["start_frame"] == {"generation_id": source["id"]}
        assert body["video"]["duration"] == "5s"
        assert "aspect_ratio" not in body
        assert settled(adapter, adapter.submit(request)) is JobState.SUCCEEDED
