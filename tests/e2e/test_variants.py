"""A job asking for variants delivers each one reframed, verified and listed beside the main MP4."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import pytest
from rich.console import Console

from foundation.settings import get_settings
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from pipeline.report import job_report
from shotline.console import report_table
from stitching.reframe import finish_reframe, reframe_segment
from tests.pipeline.conftest import shot, tiny_board

VARIANTS = {"9x16": (50, 90), "1x1": (90, 90)}  # the largest crops of a 160x90 frame


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, list[Any]]:
    """Two 1 s shots at 160x90 with a crossfade, asking for 9:16 and 1:1: report, output and
    every reframe run (shot segment, variant)."""
    data = tmp_path_factory.mktemp("variants-job")
    runs: list[tuple[str, str, bool, str]] = []
    out = data / "out" / "film.mp4"

    def counted(main, hints, profile, variant, target):
        runs.append((main.path.name, variant.label, out.exists(), "reframe"))
        return reframe_segment(main, hints, profile, variant, target)

    def in_run(main, hints, target, video, segment_out):
        label = segment_out.parent.name.removeprefix("variant-")
        runs.append((main.path.name, label, out.exists(), "normalise run"))
        return finish_reframe(main, hints, target, video, segment_out)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("stitching.reframe.reframe_segment", counted)
        patch.setattr("stitching.fanout.finish_reframe", in_run)
        patch.setenv("SHOTLINE_DATA_DIR", str(data / "shotline-data"))
        get_settings.cache_clear()
        ctx = RunContext.create("local", get_settings())
        ctx.settings.poll_interval_s = 0.01
        ctx.settings.backoff_base_s = 0.01
        output = {"size": "160x90", "fps": 24, "variants": ["9:16", "1:1"]}
        board = tiny_board(shot("a"), shot("b", transition="crossfade:0.25"), output=output)
        job_id = create_job(ctx, board, output=out)
        assert EmbeddedEngine(ctx).run(job_id) == "delivered"
        report = job_report(ctx.db_url, job_id)
    get_settings.cache_clear()
    return report, out, runs


def _measure(path: Path) -> tuple[int, int, float, float]:
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.duration is not None
        assert video.time_base is not None
        assert audio.duration is not None
        assert audio.time_base is not None
        seconds = float(video.duration * video.time_base)
        audio_seconds = float(audio.duration * audio.time_base)
        return video.codec_context.width, video.codec_context.height, seconds, audio_seconds


def test_each_variant_is_delivered_at_its_size_and_the_programme_length(delivered):
    report, out, _ = delivered
    *_, main_seconds, _ = _measure(out)
    assert main_seconds == pytest.approx(2 - 0.25, abs=1 / 24)
    for label, size in VARIANTS.items():
        path = Path(report["files"][f"variant_{label}"])
        assert path == out.with_name(f"film.{label}.mp4")
        width, height, seconds, audio_seconds = _measure(path)
        assert (width, height) == size
        assert seconds == pytest.approx(main_seconds, abs=1e-3)
        assert audio_seconds == pytest.approx(main_seconds, abs=0.03)


def test_variants_are_verified_and_named_in_the_render_table(delivered):
    report, _, _ = delivered
    checks = report["verification"]["variants"]
    assert set(checks) == set(VARIANTS)
    assert all(check["passed"] for check in checks.values())
    console = Console(width=400, record=True)
    console.print(report_table(report, 400))
    assert "variants: film.9x16.mp4, film.1x1.mp4" in " ".join(console.export_text().split())


def test_shots_are_reframed_once_in_their_normalise_run(delivered):
    """Each shot's variants are made by the FFmpeg run that normalises it (before the main
    output exists), not by reframing its segment afterwards; stitching reuses those."""
    _, _, runs = delivered
    assert sorted(runs) == sorted(
        (f"segment-{shot}.mp4", label, False, "normalise run")
        for shot in ("a", "b")
        for label in VARIANTS
    )
