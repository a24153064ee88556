"""Downloads with the S3 asset store: the API answers with a 307 to a signed URL of the bucket,
and the URL serves the delivered bytes. Files the API reads itself (the plan, the edit for NLEs)
are fetched from the bucket."""

from __future__ import annotations

import io
from collections.abc import Iterator

import av
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from pipeline.context import RunContext
from tests import web
from tests.api.conftest import tiny_board, wait_for_job


@pytest.fixture
def s3_client(s3_bucket, api_settings) -> Iterator[TestClient]:
    app = create_app(RunContext.create("local"), settings=api_settings)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def _video(data: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(data), mode="r") as container:
        context = container.streams.video[0].codec_context
        frames = sum(1 for _ in container.decode(video=0))
        return frames, context.width


def test_output_downloads_redirect_to_signed_urls(s3_client, s3_bucket):
    from api import auth
    from foundation.settings import get_settings

    headers = {"Authorization": f"Bearer {auth.create_key(get_settings().db_url, 'acme')}"}
    board = tiny_board(shots=2, output={"size": "160x90", "variants": ["1:1"]})
    job_id = s3_client.post("/v1/jobs", json={"storyboard": board}, headers=headers).json()["id"]
    job = wait_for_job(s3_client, job_id, headers)
    assert job["status"] == "delivered", job["error"]
    answer = s3_client.get(f"/v1/jobs/{job_id}/output", headers=headers)
    assert answer.status_code == 307
    location = answer.headers["location"]
    assert location.startswith(f"{s3_bucket.endpoint}/{s3_bucket.name}/deliveries/acme/{job_id}/")
    assert "X-Amz-Signature=" in location
    fetched = web.get(location)
    assert fetched.status_code == 200
    assert f"{job_id}.mp4" in fetched.headers["content-disposition"]
    assert _video(fetched.content) == (48, 160)
    key = location.split("?")[0].removeprefix(f"{s3_bucket.endpoint}/{s3_bucket.name}/")
    assert fetched.content == s3_bucket.read(key)
    variant = s3_client.get(f"/v1/jobs/{job_id}/output/variants/1x1", headers=headers)
    assert variant.status_code == 307
    assert _video(web.get(variant.headers["location"]).content) == (48, 90)
    missing = s3_client.get(f"/v1/jobs/{job_id}/output/variants/9x16", headers=headers)
    assert missing.status_code == 404
    plan = s3_client.get(f"/v1/jobs/{job_id}/output/plan", headers=headers)
    assert plan.status_code == 200
    assert len(plan.json()["shots"]) == 2
    edit = s3_client.get(f"/v1/jobs/{job_id}/output/edit/otio", headers=headers)
    assert edit.status_code == 200
    assert "Timeline" in edit.text
    segment = s3_client.get(f"/v1/jobs/{job_id}/shots/shot1/segment", headers=headers)
    assert segment.status_code == 307
    assert _video(web.get(segment.headers["location"]).content)[0] == 24
    other = {"Authorization": f"Bearer {auth.create_key(get_settings().db_url, 'globex')}"}
    assert s3_client.get(f"/v1/jobs/{job_id}/output", headers=other).status_code == 404
