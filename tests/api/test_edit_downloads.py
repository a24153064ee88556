"""The edit for NLEs through the API: linked from the job, downloadable in three formats with media
named by file name only, and the segments it names downloadable beside it."""

from __future__ import annotations

import io
import json
import os
from typing import Any

import av
import opentimelineio as otio

from stitching import EditPlan
from tests.api.conftest import tiny_board, wait_for_job
from tests.stitching.interchange_checks import check_edl, check_fcpxml, check_otio

MEDIA = {"otio": "application/json", "fcpxml": "application/xml", "edl": "text/plain"}


def _delivered(client, headers) -> tuple[dict[str, Any], EditPlan]:
    board = tiny_board(shots=2)
    board["scenes"][0]["shots"][1]["transition"] = "crossfade:0.25"
    job_id = client.post("/v1/jobs", json={"storyboard": board}, headers=headers).json()["id"]
    job = wait_for_job(client, job_id, headers)
    assert job["status"] == "delivered", job["error"]
    plan = client.get(job["links"]["plan"], headers=headers).json()
    return job, EditPlan.from_json(json.dumps(plan))


def test_each_format_reads_back_as_the_plan_without_server_paths(client, headers, ctx):
    job, plan = _delivered(client, headers)
    texts = {}
    for fmt, media in MEDIA.items():
        answer = client.get(job["links"][fmt], headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith(media)
        assert answer.headers["content-disposition"] == f'attachment; filename="{job["id"]}.{fmt}"'
        assert str(ctx.settings.data_dir) not in answer.text
        assert os.sep + "segment-" not in answer.text
        texts[fmt] = answer.text
    check_otio(otio.adapters.read_from_string(texts["otio"], "otio_json"), plan)
    check_edl(texts["edl"], plan)
    check_fcpxml(texts["fcpxml"], plan)


def test_the_segment_an_edit_names_is_downloadable_by_its_owner(client, headers, other_headers):
    job, _ = _delivered(client, headers)
    edit = client.get(job["links"]["otio"], headers=headers).text
    clip = otio.adapters.read_from_string(edit, "otio_json").tracks[0].find_clips()[1]
    segment = f"/v1/jobs/{job['id']}/shots/shot2/segment"
    answer = client.get(segment, headers=headers)
    assert answer.status_code == 200
    assert f'filename="{clip.media_reference.target_url}"' in answer.headers["content-disposition"]
    with av.open(io.BytesIO(answer.content), mode="r") as container:
        frames = len([packet for packet in container.demux(video=0) if packet.size])
    assert frames == clip.media_reference.available_range.duration.value

    assert client.get(f"/v1/jobs/{job['id']}/output/edit/aaf", headers=headers).status_code == 422
    missing = client.get(f"/v1/jobs/{job['id']}/shots/nope/segment", headers=headers)
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]
    for path in (job["links"]["edl"], segment):
        assert client.get(path, headers=other_headers).status_code == 404


def test_a_rate_cmx_3600_cannot_count_is_delivered_without_an_edl(client, headers):
    """12 fps is in the storyboard's range but has no SMPTE timecode: the job used to fail at the
    stitch, after every shot was paid for; it is delivered, and its EDL answers 404 saying why."""
    board = tiny_board(shots=2)
    board["output"]["fps"] = 12
    job_id = client.post("/v1/jobs", json={"storyboard": board}, headers=headers).json()["id"]
    job = wait_for_job(client, job_id, headers)
    assert job["status"] == "delivered", job["error"]
    assert client.get(job["links"]["otio"], headers=headers).status_code == 200
    answer = client.get(job["links"]["edl"], headers=headers)
    assert answer.status_code == 404
    assert "CMX 3600 timecode has no 12 fps" in answer.json()["detail"]
