"""The event stream read by a real SSE client over a real socket, and resumed by Last-Event-ID."""

from __future__ import annotations

import httpx
from httpx_sse import connect_sse

from tests import web
from tests.api.conftest import tiny_board


def _read(url: str, path: str, headers: dict[str, str]) -> list[tuple[str, str]]:
    with (
        httpx.Client(base_url=url, timeout=60, verify=web.TLS) as client,
        connect_sse(client, "GET", path, headers=headers) as source,
    ):
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return [(event.id, event.event) for event in source.iter_sse()]


class TestEventStream:
    def test_live_stream_until_delivery_then_resume_after_an_id(self, live_url, headers):
        with httpx.Client(base_url=live_url, verify=web.TLS) as client:
            job = client.post("/v1/jobs", json={"storyboard": tiny_board(2)}, headers=headers)
        path = f"/v1/jobs/{job.json()['id']}/events"

        events = _read(live_url, path, headers)
        kinds = [kind for _, kind in events]
        assert kinds[0] == "shot.planned"
        assert "job.running" in kinds
        assert kinds.count("shot.accepted") == 2
        assert kinds[-1] == "job.delivered"
        ids = [int(event_id) for event_id, _ in events]
        assert ids == sorted(ids)

        middle = ids[len(ids) // 2]
        resumed = _read(live_url, path, {**headers, "Last-Event-ID": str(middle)})
        assert [int(i) for i, _ in resumed] == [i for i in ids if i > middle]

    def test_unknown_job_is_a_json_404_before_any_stream(self, live_url, headers):
        with httpx.Client(base_url=live_url, verify=web.TLS) as client:
            answer = client.get("/v1/jobs/deadbeef/events", headers=headers)
        assert answer.status_code == 404
        assert answer.json()["error"] == "not_found"
