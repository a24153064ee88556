"""Deleting a preview video (``DELETE /v1/videos/{id}``) takes nothing from the final it was
committed to: neither its delivered output nor the first frame it renders (and re-renders) from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from store.db import session_scope
from store.models import Job
from tests.api.conftest import wait_for_job


def _delete(client: Any, job_id: str, headers: dict[str, str]) -> None:
    deleted = client.delete(f"/v1/videos/video_{job_id}", headers=headers)
    assert deleted.status_code == 200, deleted.text


def _commit(client: Any, headers: dict[str, str]) -> tuple[str, str]:
    """A delivered preview video, committed: its id and its final job's."""
    body = {"prompt": "a lighthouse in a storm (deletion commit)", "seconds": "1", "size": "160x90"}
    video = client.post("/v1/videos", json=body, headers=headers).json()["id"]
    preview = video.removeprefix("video_")
    assert wait_for_job(client, preview, headers)["mode"] == "preview"
    committed = client.post(f"/v1/jobs/{preview}/commit", headers=headers)
    assert committed.status_code == 202, committed.text
    return preview, committed.json()["final_job_id"]


def test_a_final_keeps_its_output_when_its_preview_is_deleted(client, ctx, headers):
    """Deleting the preview video leaves the final it was committed to: its clip and its
    delivered video."""
    preview, final = _commit(client, headers)
    assert wait_for_job(client, final, headers)["status"] == "delivered"

    _delete(client, preview, headers)
    clip = client.get(f"/v1/jobs/{final}/shots/video/asset", headers=headers)
    assert clip.status_code == 200, clip.text
    output = client.get(f"/v1/jobs/{final}/output", headers=headers)
    assert output.status_code == 200, output.text
    assert output.content[4:8] == b"ftyp"


def test_a_final_not_rendered_yet_keeps_its_preview_first_frame(client, ctx, headers):
    """A commit gives the final its preview's first frame as reference image; the preview is
    deleted before the final renders: the final still has it."""
    preview, final = _commit(client, headers)
    _delete(client, preview, headers)
    with session_scope(ctx.db_url) as session:
        board = session.get_one(Job, final).storyboard
    frames = [s.get("reference_image") for sc in board["scenes"] for s in sc["shots"]]
    assert frames != [None], "the final takes no first frame"
    assert all(Path(f).exists() for f in frames), frames


def test_on_s3_a_final_keeps_the_reference_image_its_preview_video_was_given(
    s3_bucket, api_settings
):
    """With the S3 store a video's input_reference is stored under the preview's own objects; the
    final committed from it names the same image: deleting the preview leaves the final its
    reference image (to render now, or to re-render later)."""
    import cv2
    import numpy as np
    from fastapi.testclient import TestClient

    from api import auth
    from api.app import create_app
    from foundation.settings import get_settings
    from pipeline.context import RunContext

    ctx = RunContext.create("local")
    headers = {"Authorization": f"Bearer {auth.create_key(get_settings().db_url, 'acme')}"}
    png = cv2.imencode(".png", np.full((90, 160, 3), 200, np.uint8))[1].tobytes()
    with TestClient(create_app(ctx, settings=api_settings)) as client:
        created = client.post(
            "/v1/videos",
            data={"prompt": "a lamp (deletion s3)", "seconds": "1", "size": "160x90"},
            files={"input_reference": ("ref.png", png, "image/png")},
            headers=headers,
        )
        assert created.status_code == 200, created.text
        preview = created.json()["id"].removeprefix("video_")
        assert wait_for_job(client, preview, headers)["status"] == "delivered"
        committed = client.post(f"/v1/jobs/{preview}/commit", headers=headers)
        assert committed.status_code == 202, committed.text
        final = committed.json()["final_job_id"]
        assert wait_for_job(client, final, headers)["status"] == "delivered"
        _delete(client, preview, headers)
    with session_scope(ctx.db_url) as session:
        board = session.get_one(Job, final).storyboard
    refs = [s["reference_image"] for sc in board["scenes"] for s in sc["shots"]]
    assert refs
    assert all(ref.startswith(f"s3://{s3_bucket.name}/deliveries/acme/{final}/") for ref in refs)
    assert all(ctx.assets.exists(ref) for ref in refs), refs


def test_a_job_is_deleted_with_its_files_and_only_by_its_tenant(
    client, ctx, headers, other_headers
):
    """Jobs made by ``POST /v1/jobs`` had no delete (only ``/v1/videos`` did): their files and
    objects stayed for good."""
    from tests.api.conftest import tiny_board

    job_id = client.post("/v1/jobs", json={"storyboard": tiny_board(1)}, headers=headers).json()[
        "id"
    ]
    assert wait_for_job(client, job_id, headers)["status"] == "delivered"
    folders = [ctx.asset_dir(job_id), ctx.settings.work_dir / job_id]
    assert any(folder.exists() for folder in folders)
    assert client.delete(f"/v1/jobs/{job_id}", headers=other_headers).status_code == 404
    deleted = client.delete(f"/v1/jobs/{job_id}", headers=headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": job_id, "object": "job.deleted", "deleted": True}
    assert client.get(f"/v1/jobs/{job_id}", headers=headers).status_code == 404
    assert client.delete(f"/v1/jobs/{job_id}", headers=headers).status_code == 404
    assert not any(folder.exists() for folder in folders)
