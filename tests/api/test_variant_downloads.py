"""Variants through the API: linked from the job, downloadable by their owner only."""

from __future__ import annotations

import io

import av

from tests.api.conftest import tiny_board, wait_for_job


def test_a_variant_is_linked_and_downloadable(client, headers, other_headers):
    board = tiny_board(shots=1)
    board["output"] = board.get("output", {}) | {"variants": ["1:1"]}
    job_id = client.post("/v1/jobs", json={"storyboard": board}, headers=headers).json()["id"]
    job = wait_for_job(client, job_id, headers)
    assert job["status"] == "delivered", job["error"]
    link = job["links"]["variant_1x1"]
    assert link == f"/v1/jobs/{job_id}/output/variants/1x1"
    assert job["verification"]["variants"]["1x1"]["passed"]
    answer = client.get(link, headers=headers)
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].endswith(f'filename="{job_id}.1x1.mp4"')
    with av.open(io.BytesIO(answer.content), mode="r") as container:
        video = container.streams.video[0].codec_context
        square = video.width == video.height
    assert square
    assert client.get(link, headers=other_headers).status_code == 404
    missing = f"/v1/jobs/{job_id}/output/variants/9x16"
    assert client.get(missing, headers=headers).status_code == 404
    not_a_label = f"/v1/jobs/{job_id}/output/variants/1x1.plan.json"
    assert client.get(not_a_label, headers=headers).status_code == 422
