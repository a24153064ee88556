"""Cost of a full emulated provider round trip (adapter submit -> poll -> fetch with download, probe
and sha256) against the anchor: rendering the same clip directly with the local animatic renderer.

Run: .venv/bin/python benchmarks/bench_emulator.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.base import GenerationRequest, JobState
from adapters.factory import build_adapter
from adapters.local import render_animatic
from emulators import start_emulator
from foundation.settings import Settings

REPEATS = 3
MODELS = {
    "google": "veo-3.1-fast-generate-preview",
    "runway": "gen4.5",
    "kling": "kling-v3",
    "luma": "ray-2",
    "fal": "fal-ai/veo3.1/fast",
    "replicate": "google/veo-3.1-fast",
    "openai": "sora-2",
}


def request(provider: str, index: int) -> GenerationRequest:
    return GenerationRequest(
        shot_id=f"bench-{index}",
        prompt=f"a lighthouse at dusk, take {index}",
        duration_s=4.0,
        width=640,
        height=360,
        fps=24.0,
        model=f"{provider}/bench",
        provider_model=MODELS.get(provider, "animatic"),
    )


def anchor(work: Path) -> float:
    times = []
    for index in range(REPEATS):
        started = time.perf_counter()
        render_animatic(request("local", index), work / f"anchor-{index}.mp4")
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def round_trip(provider: str, base_url: str, work: Path) -> float:
    adapter = build_adapter(provider, settings=Settings(_env_file=None), base_url=base_url)
    times = []
    for index in range(REPEATS):
        started = time.perf_counter()
        job_id = adapter.submit(request(provider, index))
        while adapter.poll(job_id).state is not JobState.SUCCEEDED:
            time.sleep(0.01)
        adapter.fetch(job_id, work / provider)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = anchor(work)
        rows = [("anchor: render_animatic 640x360 4 s", base)]
        scenario_cap = {"media": {"max_side": 640}}
        from emulators import Scenario

        with start_emulator(Scenario.model_validate(scenario_cap)) as emu:
            for provider in MODELS:
                rows.append((provider, round_trip(provider, emu.base_urls[provider], work)))
    print(f"median of {REPEATS} runs, zero-latency clean scenario, frames capped at 640 px\n")
    print("| path | seconds | ratio to anchor |")
    print("|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} | {seconds / base:.2f} |")


if __name__ == "__main__":
    main()
