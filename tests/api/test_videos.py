"""The OpenAI-compatible facade, driven by the official ``openai`` SDK over a real socket."""

from __future__ import annotations

import io
import re
import time
import warnings

import av
import httpx
import pytest

from foundation.states import JobStatus
from store.db import session_scope
from store.models import Job
from tests import web


@pytest.fixture
def openai_client(live_url, key):
    from openai import OpenAI

    with OpenAI(api_key=key, base_url=live_url + "/v1", max_retries=0) as client:
        yield client


def _video_info(data: bytes) -> tuple[int, int, float]:
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        frames = sum(1 for packet in container.demux(stream) if packet.size)
        return (
            stream.codec_context.width,
            stream.codec_context.height,
            frames / float(stream.average_rate or 1),
        )


class TestOpenAIFacade:
    def test_sdk_creates_polls_downloads_lists_and_deletes(self, openai_client):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the SDK marks Sora as deprecated
            video = openai_client.videos.create(
                model="sora-2", prompt="a paper boat on a river", seconds="2", size="320x180"
            )
            assert video.status in ("queued", "in_progress")
            assert video.id.startswith("video_")
            done = openai_client.videos.poll(video.id, poll_interval_ms=100)
            content = openai_client.videos.download_content(video.id).read()
            thumbnail = openai_client.videos.download_content(video.id, variant="thumbnail").read()
            listed = [v.id for v in openai_client.videos.list()]
            deleted = openai_client.videos.delete(video.id)
            from openai import NotFoundError

            with pytest.raises(NotFoundError):
                openai_client.videos.retrieve(video.id)

        assert (done.status, done.progress, done.seconds, done.size) == (
            "completed",
            100,
            "2",
            "320x180",
        )
        assert done.completed_at is not None
        assert done.completed_at >= done.created_at
        width, height, seconds = _video_info(content)
        assert (width, height) == (320, 180)
        assert seconds == pytest.approx(2.0, abs=1 / 24)
        assert thumbnail[:3] == b"\xff\xd8\xff"
        assert listed == [video.id]
        assert deleted.deleted is True

    def test_a_failed_videos_error_names_no_server_path(self, openai_client, ctx):
        """The job view cut server paths out of a job's error; the video object quoted it whole."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            video = openai_client.videos.create(
                model="sora-2", prompt="a paper lamp", seconds="2", size="320x180"
            )
            openai_client.videos.poll(video.id, poll_interval_ms=100)
            with session_scope(ctx.db_url) as session:
                job = session.get_one(Job, video.id.removeprefix("video_"))
                job.status = JobStatus.FAILED
                job.error = (
                    f"stitching failed: {ctx.settings.data_dir}/jobs/x/segments/s.mp4 is short"
                )
            failed = openai_client.videos.retrieve(video.id)
        assert failed.status == "failed"
        assert failed.error is not None
        assert failed.error.message == "stitching failed: s.mp4 is short"

    def test_sdk_sees_errors_as_its_own_exceptions(self, openai_client):
        from openai import UnprocessableEntityError

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            with pytest.raises(UnprocessableEntityError) as caught:
                openai_client.videos.create(prompt="x", seconds="0", size="320x180")
        assert caught.value.body == "invalid_input"  # the SDK keeps the body's "error" field
        assert caught.value.response.json()["problems"][0]["path"] == "seconds"

    def test_a_pinned_model_not_in_the_registry_is_refused(self, live_url, headers):
        """``local/animatc`` (a typo) was taken for an OpenAI model name and routed freely."""
        with httpx.Client(base_url=live_url, verify=web.TLS) as client:
            body = {"prompt": "a lamp", "seconds": "1", "size": "160x90", "model": "local/animatc"}
            refused = client.post("/v1/videos", json=body, headers=headers)
            listed = client.get("/v1/videos", headers=headers).json()["data"]
        assert refused.status_code == 422, refused.text
        (problem,) = refused.json()["problems"]
        assert problem == {
            "path": "model",
            "message": "no model 'local/animatc' in the registry (GET /v1/models lists them)",
        }
        assert listed == []

    def test_a_refusal_names_no_server_path(self, live_url, headers):
        """A truncated PNG passes the upload's sniff and is refused by planning's check of the
        stored file, whose message named its absolute path under the data folder."""
        with httpx.Client(base_url=live_url, verify=web.TLS) as client:
            refused = client.post(
                "/v1/videos",
                data={"prompt": "a lamp", "seconds": "1", "size": "160x90"},
                files={"input_reference": ("ref.png", _png()[:60], "image/png")},
                headers=headers,
            )
        assert refused.status_code == 422, refused.text
        body = refused.json()
        said = [body["detail"], *(problem["message"] for problem in body["problems"])]
        assert any("not a readable image" in text for text in said), said
        assert [problem["path"] for problem in body["problems"]] == ["input_reference"]
        assert not [text for text in said if re.search(r"(^|\s)/\w", text)], said

    def test_uploaded_reference_image_is_checked(self, live_url, headers):
        with httpx.Client(base_url=live_url, verify=web.TLS) as client:
            refused = client.post(
                "/v1/videos",
                data={"prompt": "a lamp", "seconds": "1", "size": "160x90"},
                files={"input_reference": ("ref.png", b"not an image", "image/png")},
                headers=headers,
            )
            assert refused.status_code == 422
            assert refused.json()["problems"][0]["path"] == "input_reference"
            png = _png()
            accepted = client.post(
                "/v1/videos",
                data={"prompt": "a lamp", "seconds": "1", "size": "160x90"},
                files={"input_reference": ("ref.png", png, "image/png")},
                headers=headers,
            )
            assert accepted.status_code == 200, accepted.text
            video_id = accepted.json()["id"]
            deadline = time.monotonic() + 30
            while client.get(f"/v1/videos/{video_id}", headers=headers).json()["status"] in (
                "queued",
                "in_progress",
            ):
                assert time.monotonic() < deadline
                time.sleep(0.1)


def _png() -> bytes:
    import cv2
    import numpy as np

    ok, data = cv2.imencode(".png", np.full((90, 160, 3), 200, np.uint8))
    assert ok
    return bytes(data)
