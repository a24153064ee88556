"""The programme's loudness put together from the segments' measurements (``stitching.measured``)
equals the same meter on the whole decoded output, and FFmpeg's ``ebur128`` on the file."""

from __future__ import annotations

import math
from contextlib import ExitStack
from pathlib import Path

import av
import numpy as np
import pytest

from stitching import EditPlan, assemble, measured, meter, plan_edit
from stitching import audio as audio_mod
from stitching.loudness import measure_file, measure_pcm
from stitching.meter import blocks_path
from stitching.sound import AudioParts, demux_all
from stitching.written import MEASURED_ON
from tests.stitching.conftest import PROFILE, normalise_all

RATE = PROFILE.sample_rate


def _whole(path: Path, total: int) -> tuple[float, float]:
    """The meter on the whole decoded audio of ``path`` (its first ``total`` samples)."""
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
    first = frames[0]
    assert first.pts is not None
    assert first.time_base is not None
    start = round(first.pts * first.time_base * RATE)
    pcm = np.concatenate([f.to_ndarray().T for f in frames])[: total - start]
    blocks = meter.sub_blocks(pcm, start, RATE, ends=True)
    return meter.integrated(blocks.energy[: total // meter.hop(RATE)], RATE), meter.peak_db(
        blocks.peak
    )


def _put_together(plan: EditPlan) -> measured.Assembled:
    interiors, packets, _ = audio_mod.render(plan)
    parts = AudioParts(interiors, packets)
    prepared = measured.prepare(plan, interiors)
    assert prepared is not None
    with ExitStack() as stack:
        read = demux_all([shot.segment.path for shot in plan.shots], stack)
        copies = measured.picked(plan, parts, prepared, read)
    return measured.assembled(plan, copies, prepared)


@pytest.mark.parametrize(
    "transitions", [["cut", "cut", "cut"], ["fade:0.25", "crossfade:0.25", "cut"]]
)
def test_put_together_equals_the_whole_output_measured(transitions, shots, tmp_path):
    items = normalise_all(shots, transitions, tmp_path / "seg")
    plan = plan_edit(items, PROFILE)
    result = assemble(plan, tmp_path / "out.mp4")
    loudness = result.verification["checks"]["loudness"]
    assert result.verification["passed"], result.verification
    assert loudness["measured_on"] == MEASURED_ON
    whole = _whole(result.path, plan.total_samples)
    together = _put_together(plan)
    assert prepared_some(plan)
    assert abs(together.integrated - whole[0]) < 1e-6
    assert abs(together.true_peak - whole[1]) < 1e-6
    assert loudness["integrated_lufs"] == round(whole[0], 2)
    ffmpeg = measure_file(result.path)  # prints one decimal
    assert abs(loudness["integrated_lufs"] - ffmpeg.integrated) <= 0.1
    assert abs(loudness["true_peak_db"] - ffmpeg.true_peak) <= 0.2


def prepared_some(plan: EditPlan) -> bool:
    """Some sub-blocks really come from the segments' sidecars (the test measures something)."""
    prepared = measured.prepare(plan, audio_mod.interiors(plan))
    return prepared is not None and len(prepared.known) >= 10


def test_a_changed_segment_audio_is_measured_on_the_output(shots, tmp_path):
    items = normalise_all(shots, ["cut", "cut", "cut"], tmp_path / "seg")
    sidecar = blocks_path(items[1][1].path)
    with np.load(sidecar) as data:
        saved = {key: data[key] for key in data.files}
    with sidecar.open("wb") as handle:  # as if measured on other audio
        np.savez(handle, **(saved | {"digest": np.array("0" * 24)}))
    result = assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")
    loudness = result.verification["checks"]["loudness"]
    assert "measured_on" not in loudness
    assert loudness["integrated_lufs"] == measure_file(result.path).integrated


def test_meter_reads_a_full_scale_sine_and_noise_like_ebur128():
    t = np.arange(RATE * 3) / RATE
    sine = np.zeros((len(t), 2), dtype=np.float32)
    sine[:, 0] = np.sin(2 * math.pi * 997 * t)
    blocks = meter.sub_blocks(sine, 0, RATE, ends=True)
    assert abs(meter.integrated(blocks.energy, RATE) - -3.01) < 0.05  # BS.1770-4, 2.1
    noise = (np.random.default_rng(3).standard_normal((RATE * 4, 2)) * 0.05).astype(np.float32)
    ours = meter.integrated(meter.sub_blocks(noise, 0, RATE, ends=True).energy, RATE)
    assert abs(ours - measure_pcm(noise, RATE).integrated) <= 0.1


def test_silence_reads_as_ebur128_does():
    blocks = meter.sub_blocks(np.zeros((RATE, 2), dtype=np.float32), 0, RATE, ends=True)
    assert meter.integrated(blocks.energy, RATE) == meter.SILENCE
    assert meter.peak_db(blocks.peak) == -math.inf


def test_audio_short_of_the_plan_is_measured_on_the_output(shots, tmp_path, monkeypatch):
    """When the audio written does not cover the plan, the output is measured (its other
    checks report the shortfall) rather than the assembly failing."""
    items = normalise_all(shots[:2], ["cut", "cut"], tmp_path / "seg")

    def short(*_: object) -> measured.Assembled:
        raise measured.MissingAudio("sub-blocks 10-14 are not in the audio written")

    monkeypatch.setattr(measured, "assembled", short)
    result = assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")
    loudness = result.verification["checks"]["loudness"]
    assert "measured_on" not in loudness
    assert loudness["integrated_lufs"] == measure_file(result.path).integrated
