"""Issue 18's keyframe previews under ``--providers emulated``: ``preview: {kind: keyframes}``
delivers an MP4 whose shots are their keyframes held still (a shot without characters drawn one
too), with the real voice and captions, paying only the keyframes and the voice; its commit
animates exactly the approved keyframes with hosted video models, reusing keyframes and voice from
the cache for nothing."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import av
import cv2
import numpy as np
import pysubs2
import pytest
from sqlalchemy import select

from foundation.settings import Settings
from foundation.storyboard import parse_storyboard
from pipeline import commit
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from pipeline.report import job_report
from shotline.emulated import use_emulator
from store.db import session_scope
from store.models import Attempt, Shot
from tests.e2e.test_keyframes import corner, picture

FIRST_S = 1.5
BOARD = {
    "title": "keyframe preview", "mode": "preview", "preview": {"kind": "keyframes"},
    "output": {"size": "160x90", "fps": 24},
    "characters": [{"id": "mara", "description": "a woman in a red coat", "voice": "calm, low"}],
    "scenes": [{"id": "s", "shots": [
        {"id": "a", "prompt": "Mara on a quay", "duration": FIRST_S, "characters": ["mara"],
         "dialogue": "Go now.", "speaker": "mara"},
        {"id": "b", "prompt": "an empty street at night", "duration": 1},
    ]}],
}  # fmt: skip


def unlike(frame: np.ndarray, keyframe: np.ndarray) -> float:
    """The median over pixels of the mean absolute colour difference: small when ``frame`` is
    ``keyframe``'s picture, whatever an emulated clip draws over a part of it."""
    return float(np.median(np.abs(frame.astype(int) - keyframe.astype(int)).mean(axis=2)))


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [np.asarray(f.to_ndarray(format="bgr24")) for f in container.decode(video=0)]


def video_tries(ctx: RunContext, job_id: str) -> list[tuple[str, str, float | None]]:
    """Each video try of the job: its shot, model and settled cost, in shot order."""
    query = (
        select(Shot.key, Attempt.model_id, Attempt.settled_usd)
        .join(Attempt, Attempt.shot_id == Shot.id)
        .where(Shot.job_id == job_id, Attempt.stage == "video")
        .order_by(Shot.position, Attempt.number)
    )
    with session_scope(ctx.db_url) as session:
        return [(key, model, settled) for key, model, settled in session.execute(query).all()]


@pytest.mark.provider_resolution  # the final's gate checks the provider's resolution
def test_a_keyframes_preview_holds_each_keyframe_and_its_commit_animates_them(tmp_path):
    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    with ExitStack() as stack:
        use_emulator(ctx, stack, None)
        out = tmp_path / "cut.mp4"
        preview = commit.start_preview(ctx, parse_storyboard(BOARD), output=out)
        assert EmbeddedEngine(ctx).run(preview) == "delivered"
        report = job_report(ctx.db_url, preview)
        drawn = {s["id"]: s["stages"]["keyframe"] for s in report["shots"]}
        assert all(k["status"] == "accepted" and k["cost_usd"] > 0 for k in drawn.values())
        voice = report["shots"][0]["stages"]["tts"]
        assert video_tries(ctx, preview) == [("a", "local/still", 0.0), ("b", "local/still", 0.0)]
        (sheet,) = report["sheets"]  # mara's reference sheet, which her keyframe is drawn from
        assert sheet["cost_usd"] > 0
        paid = sum(k["cost_usd"] for k in drawn.values()) + voice["cost_usd"] + sheet["cost_usd"]
        assert report["spent_usd"] == pytest.approx(paid, abs=1e-6)
        (cue,) = pysubs2.load(str(tmp_path / "cut.srt")).events
        assert cue.plaintext == "Go now."

        shown = frames(out)
        cut = round(FIRST_S * 24)
        for key, shot in (("a", shown[:cut]), ("b", shown[cut:])):
            keyframe = picture(drawn[key]["asset"])
            drift = max(np.abs(f.astype(int) - shot[0].astype(int)).mean() for f in shot)
            assert drift < 4, f"shot {key} is not a still ({drift:.1f})"
            assert np.abs(corner(shot[0]) - corner(keyframe)).max() < 10
            assert unlike(shot[0], keyframe) < 6

        final_id = commit.commit(ctx, preview).final_job_id
        assert EmbeddedEngine(ctx).run(final_id) == "delivered"
    final = job_report(ctx.db_url, final_id)
    for shot in final["shots"]:
        assert (shot["stages"]["keyframe"]["reused"], shot["stages"]["keyframe"]["cost_usd"]) == (
            True,
            0.0,
        )
    assert final["shots"][0]["stages"]["tts"]["cost_usd"] == 0.0
    animated = video_tries(ctx, final_id)
    assert [key for key, _, _ in animated] == ["a", "b"]  # each animated once, first time
    assert {model for _, model, _ in animated}.isdisjoint({"local/still", "local/animatic"})
    assert all(ctx.registry.get(model).inputs.image for _, model, _ in animated)
    first = frames(tmp_path / "cut.final.mp4")
    keyframes = {key: picture(stage["asset"]) for key, stage in drawn.items()}
    for key, other, at in (("a", "b", 0), ("b", "a", round(FIRST_S * 24))):
        # each final shot starts from its own approved keyframe, not from the other one
        assert unlike(first[at], keyframes[key]) < 12 < 4 * 12 < unlike(first[at], keyframes[other])


def test_the_still_is_the_picture_it_is_given(tmp_path):
    """``local/still`` renders exactly ``round(duration * fps)`` frames of its first frame, the
    last pushed in by ``PUSH_IN`` (the centre keeps its colour), and refuses a request without."""
    from adapters.base import GenerationRequest
    from adapters.errors import RejectedInputError
    from adapters.still import render_still

    image = np.zeros((90, 160, 3), np.uint8)
    image[:, :80] = (0, 0, 200)
    image[:, 80:] = (200, 0, 0)
    cv2.imwrite(str(tmp_path / "key.png"), image)
    request = GenerationRequest(
        "s", "p", 1.0, 160, 90, 24, "local/still", "still",
        reference_image=tmp_path / "key.png",
    )  # fmt: skip
    clip = frames(render_still(request, tmp_path / "still.mp4"))
    assert len(clip) == 24
    assert np.abs(clip[0][40:50, 10:20].mean(axis=(0, 1)) - (0, 0, 200)).max() < 12
    assert np.abs(clip[-1][40:50, 140:150].mean(axis=(0, 1)) - (200, 0, 0)).max() < 12
    with pytest.raises(RejectedInputError):
        render_still(GenerationRequest("s", "p", 1.0, 160, 90, 24, "m"), tmp_path / "x.mp4")
