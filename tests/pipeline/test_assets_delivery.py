"""An embedded render with the S3 asset store: the shots' clips, their segments, the output, its
variant and every sidecar are delivered into the bucket, and what is there is valid video."""

from __future__ import annotations

import io

import av
from sqlalchemy import func, select

from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from store.db import session_scope
from store.models import Attempt, Job, Shot
from tests.pipeline.conftest import shot, tiny_board

SIDECARS = ("1x1.mp4", "plan.json", "otio", "fcpxml", "edl", "srt", "vtt", "poster.jpg")


def _measure(data: bytes) -> tuple[int, int, int, bool]:
    """(frames, width, height, has audio) of an MP4 in memory, decoded with PyAV."""
    with av.open(io.BytesIO(data), mode="r") as container:
        video = container.streams.video[0]
        size = (video.codec_context.width, video.codec_context.height)
        audio = bool(container.streams.audio)
        frames = sum(1 for _ in container.decode(video=0))
    return frames, size[0], size[1], audio


def test_an_embedded_render_delivers_into_the_bucket(s3_bucket, tmp_path):
    from foundation.settings import get_settings
    from pipeline.context import RunContext

    ctx = RunContext.create("local", get_settings())
    board = tiny_board(
        shot("a"), shot("b", transition="crossfade:0.5"), output={"size": "160x90", "fps": 24,
        "variants": ["1:1"]},
    )  # fmt: skip
    job_id = create_job(ctx, board, output=tmp_path / "out.mp4", tenant="acme")
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        output = job.output_path or ""
        shots = list(session.scalars(select(Shot).where(Shot.job_id == job_id)))
        refs = [s.asset_path or "" for s in shots] + [str((s.segment or {})["path"]) for s in shots]
    prefix = f"s3://{s3_bucket.name}/deliveries/acme/{job_id}/"
    assert output.startswith(prefix), output
    assert all(ref.startswith(prefix) for ref in refs), refs
    keys = set(s3_bucket.object_keys())
    key = output.removeprefix(f"s3://{s3_bucket.name}/")
    assert key.endswith("/out.mp4")
    assert {f"{key.removesuffix('.mp4')}.{suffix}" for suffix in SIDECARS} <= keys
    assert {ref.removeprefix(f"s3://{s3_bucket.name}/") for ref in refs} <= keys
    assert not (tmp_path / "out.mp4").exists()  # the deliverable lives in the bucket
    # 2 s less the 0.5 s crossfade's overlap, at 24 fps
    assert _measure(s3_bucket.read(key)) == (36, 160, 90, True)
    frames, width, height, _ = _measure(s3_bucket.read(key.replace("out.mp4", "out.1x1.mp4")))
    assert (frames, width == height) == (36, True)


def test_a_committed_preview_delivers_its_final_into_the_bucket(s3_bucket, tmp_path):
    from foundation.settings import get_settings
    from pipeline import commit
    from pipeline.context import RunContext

    ctx = RunContext.create("local", get_settings())
    board = tiny_board(shot("a", prompt="a kite (bucket)"), shot("b", prompt="a dog (bucket)"))
    preview = commit.start_preview(ctx, board, output=tmp_path / "cut.mp4")
    assert EmbeddedEngine(ctx).run(preview) == "delivered"
    result = commit.commit(ctx, preview, ["a"])
    assert EmbeddedEngine(ctx).run(result.final_job_id) == "delivered"
    with session_scope(ctx.db_url) as session:
        final = session.get_one(Job, result.final_job_id).output_path or ""
        kept = session.scalars(
            select(Shot.asset_path).where(Shot.job_id == result.final_job_id, Shot.key == "b")
        ).one()
    assert final.startswith(f"s3://{s3_bucket.name}/deliveries/local/{result.final_job_id}/")
    assert final.endswith("/cut.final.mp4")
    assert kept is not None
    assert f"/{preview}/" in kept
    key = final.removeprefix(f"s3://{s3_bucket.name}/")
    assert _measure(s3_bucket.read(key))[:3] == (48, 160, 90)


def test_a_music_bed_travels_through_the_bucket(s3_bucket, tmp_path):
    """The bed is put into the store when the preview is made, so a stitching machine without the
    user's file lays it under the programme, and the commit's final keeps the stored bed (the
    local renderer's shots are silent: the sound of each output is the bed)."""
    import numpy as np

    from foundation.settings import get_settings
    from foundation.storyboard import Storyboard
    from media.runner import run_ffmpeg
    from pipeline import commit
    from pipeline.context import RunContext

    bed = tmp_path / "bed.wav"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=f=440:r=48000:d=0.5", str(bed)])
    (tmp_path / "bed.txt").write_text("the user's own notes: not ours to upload")
    ctx = RunContext.create("local", get_settings())
    board = tiny_board(shot("a", prompt="a kite (bed)"), shot("b"), music={"file": str(bed)})
    preview = commit.start_preview(ctx, board, output=tmp_path / "cut.mp4")
    assert not [k for k in s3_bucket.object_keys() if k.endswith("bed.txt")]
    bed.unlink()  # the stitches read the stored copy
    assert EmbeddedEngine(ctx).run(preview) == "delivered"
    final = commit.commit(ctx, preview, ["a"]).final_job_id
    assert EmbeddedEngine(ctx).run(final) == "delivered"
    for job_id in (preview, final):
        with session_scope(ctx.db_url) as session:
            job = session.get_one(Job, job_id)
            stored = Storyboard.model_validate(job.storyboard).music
            output = (job.output_path or "").removeprefix(f"s3://{s3_bucket.name}/")
        assert stored is not None
        assert (stored.file or "").startswith(f"s3://{s3_bucket.name}/deliveries/local/{preview}/")
        with av.open(io.BytesIO(s3_bucket.read(output)), mode="r") as container:
            frames = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
        samples = np.concatenate(frames).astype(np.float64)
        assert float(np.sqrt(np.mean(samples**2))) > 0.01


def test_a_bucket_that_fails_for_a_while_delays_the_shots_and_loses_none(
    s3_bucket, tmp_path, monkeypatch
):
    """Connection failures and 5xx answers from the bucket are retried later by the engine
    (``flow.RETRY_LATER``), as a database hiccup is: the shot's paid clip is kept, not failed."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    from foundation.settings import get_settings
    from pipeline.context import RunContext

    ctx = RunContext.create("local", get_settings())
    client = ctx.assets.client  # type: ignore[attr-defined]
    real_upload = client.upload_file
    failures: list[object] = []

    def flaky_upload(*args: object, **kwargs: object) -> None:
        if len(failures) < 3:
            failures.append(args[0])
            if len(failures) == 2:
                error = {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}
                raise ClientError(error, "PutObject")
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        real_upload(*args, **kwargs)

    monkeypatch.setattr(client, "upload_file", flaky_upload)
    job_id = create_job(ctx, tiny_board(shot("a"), shot("b")), tenant="acme")
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"
    assert len(failures) == 3
    with session_scope(ctx.db_url) as session:
        shots = list(session.scalars(select(Shot).where(Shot.job_id == job_id)))
    assert [s.status for s in shots] == ["normalised", "normalised"]
    assert all((s.asset_path or "").startswith(f"s3://{s3_bucket.name}/") for s in shots)


def test_reference_images_travel_through_the_bucket_and_key_the_cache_by_content(
    s3_bucket, tmp_path
):
    """A shot's reference image and a character's sheets are put into the store when the job is
    made, so a machine without the user's files sends them; a second job with the same images
    (put again, under new keys) reuses the accepted clips: the cache keys on their content."""
    import cv2
    import numpy as np

    from foundation.settings import get_settings
    from foundation.storyboard import Storyboard
    from pipeline.context import RunContext

    def image(name: str, value: int) -> str:
        path = tmp_path / name
        path.write_bytes(cv2.imencode(".png", np.full((90, 160, 3), value, np.uint8))[1].tobytes())
        return str(path)

    def files() -> tuple[str, str]:
        return image("start.png", 90), image("mara.png", 160)

    start, sheet = files()
    ctx = RunContext.create("local", get_settings())
    mara = {"id": "mara", "description": "silver hair", "reference_images": [sheet]}
    board = tiny_board(
        shot("a", reference_image=start), shot("b", characters=["mara"]), characters=[mara]
    )
    first = create_job(ctx, board, tenant="acme")
    for name in ("start.png", "mara.png"):
        (tmp_path / name).unlink()  # the engine reads the stored copies
    assert EmbeddedEngine(ctx).run(first) == "delivered"
    with session_scope(ctx.db_url) as session:
        stored = Storyboard.model_validate(session.get_one(Job, first).storyboard)
    prefix = f"s3://{s3_bucket.name}/deliveries/acme/{first}/"
    assert (stored.scenes[0].shots[0].reference_image or "").startswith(prefix)
    assert stored.characters[0].reference_images[0].startswith(prefix)
    files()  # the user's same images, for the next job
    again = create_job(ctx, board, tenant="acme")
    assert EmbeddedEngine(ctx).run(again) == "delivered"
    with session_scope(ctx.db_url) as session:
        attempts = session.scalar(
            select(func.count(Attempt.id))
            .join(Shot)
            .where(Shot.job_id == again, Attempt.stage == "video")
        )
        drawn = session.execute(
            select(Attempt.settled_usd, Attempt.request)
            .join(Shot)
            .where(Shot.job_id == again, Attempt.stage == "keyframe")
        ).all()
    assert attempts == 0  # both shots' videos came from the cache
    ((settled, request),) = drawn  # shot b's keyframe too, through the bucket, for nothing
    assert (settled, bool(request["reused_from"])) == (0.0, True)


def test_a_clip_shared_across_tenants_outlives_the_job_that_made_it(s3_bucket, monkeypatch):
    """With the shared cache, globex's job reuses acme's clips; deleting acme's job (its objects
    and this machine's files, as ``DELETE /v1/videos/{id}`` does) leaves globex's clips stored."""
    import shutil

    from foundation.settings import get_settings
    from pipeline.context import RunContext

    monkeypatch.setenv("SHOTLINE_SHARE_SHOT_CACHE", "1")
    get_settings.cache_clear()
    ctx = RunContext.create("local", get_settings())
    board = tiny_board(shot("a"), shot("b"))
    first = create_job(ctx, board, tenant="acme")
    assert EmbeddedEngine(ctx).run(first) == "delivered"
    again = create_job(ctx, board, tenant="globex")
    assert EmbeddedEngine(ctx).run(again) == "delivered"

    ctx.assets.forget(f"acme/{first}")
    shutil.rmtree(ctx.asset_dir(first))
    shutil.rmtree(ctx.settings.assets / ".store")  # as on a machine that never held the files
    with session_scope(ctx.db_url) as session:
        attempts = session.scalar(
            select(func.count(Attempt.id)).join(Shot).where(Shot.job_id == again)
        )
        refs = list(session.scalars(select(Shot.asset_path).where(Shot.job_id == again)))
    assert attempts == 0  # both clips came from acme's job
    prefix = f"s3://{s3_bucket.name}/deliveries/globex/{again}/"
    assert all((ref or "").startswith(prefix) for ref in refs), refs
    assert all(ctx.assets.exists(ref or "") for ref in refs)
    assert all(ctx.assets.local(ref or "").stat().st_size > 0 for ref in refs)
