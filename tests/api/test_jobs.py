"""Jobs through the HTTP API: submit (JSON and YAML), read, list, plan, download, cancel."""

from __future__ import annotations

import io

import av
import yaml

from tests.api.conftest import tiny_board, wait_for_job


def _frames(data: bytes) -> tuple[int, int, int]:
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        frames = sum(1 for packet in container.demux(stream) if packet.size)
        return frames, stream.codec_context.width, stream.codec_context.height


class TestSubmitAndDeliver:
    def test_json_job_is_accepted_then_delivered_with_a_playable_mp4(self, client, headers):
        created = client.post("/v1/jobs", json={"storyboard": tiny_board()}, headers=headers)
        assert created.status_code == 202
        body = created.json()
        assert created.headers["location"] == f"/v1/jobs/{body['id']}"
        assert body["status"] in ("planned", "running")
        assert [s["id"] for s in body["shots"]] == ["shot1", "shot2"]

        job = wait_for_job(client, body["id"], headers)
        assert job["status"] == "delivered", job["error"]
        assert {"queued_s", "shots_s", "stitching_s", "total_s"} <= set(job["timings"])
        assert job["costs"]["settled_usd"] == 0.0
        shot = job["shots"][0]
        assert shot["attempt_log"][0]["verdict"]["action"] == "accept"
        assert shot["route"]["candidates"][0]["model_id"] == "local/animatic"
        assert shot["asset_url"].endswith("/shots/shot1/asset")

        video = client.get(job["links"]["output"], headers=headers)
        assert video.headers["content-type"] == "video/mp4"
        assert _frames(video.content) == (48, 160, 90)  # 2 s at 24 fps

    def test_yaml_body_with_query_options(self, client, headers):
        text = yaml.safe_dump(tiny_board(shots=1))
        created = client.post(
            "/v1/jobs?mode=final&budget_usd=5",
            content=text,
            headers={**headers, "content-type": "application/yaml"},
        )
        assert created.status_code == 202, created.text
        job = wait_for_job(client, created.json()["id"], headers)
        assert (job["status"], job["mode"], job["costs"]["budget_usd"]) == ("delivered", "final", 5)

    def test_downloads_range_plan_poster_and_shot_asset(self, client, headers):
        job_id = client.post("/v1/jobs", json={"storyboard": tiny_board()}, headers=headers).json()[
            "id"
        ]
        wait_for_job(client, job_id, headers)
        full = client.get(f"/v1/jobs/{job_id}/output", headers=headers).content
        part = client.get(f"/v1/jobs/{job_id}/output", headers={**headers, "Range": "bytes=10-109"})
        assert part.status_code == 206
        assert part.content == full[10:110]
        assert part.headers["content-range"] == f"bytes 10-109/{len(full)}"
        beyond = client.get(
            f"/v1/jobs/{job_id}/output", headers={**headers, "Range": f"bytes={len(full) + 5}-"}
        )
        assert beyond.status_code == 416
        assert beyond.json()["error"] == "range_not_satisfiable"

        plan = client.get(f"/v1/jobs/{job_id}/output/plan", headers=headers).json()
        assert [s["shot_id"] for s in plan["shots"]] == ["shot1", "shot2"]
        assert "/" not in plan["shots"][0]["segment"]["path"]
        poster = client.get(f"/v1/jobs/{job_id}/poster", headers=headers)
        assert poster.content[:3] == b"\xff\xd8\xff"
        asset = client.get(f"/v1/jobs/{job_id}/shots/shot2/asset", headers=headers)
        assert asset.status_code == 200
        assert _frames(asset.content)[0] > 0

    def test_list_is_newest_first_with_a_cursor(self, client, headers):
        ids = [
            client.post(
                "/v1/jobs", json={"storyboard": tiny_board(1, tag=f" #{n}")}, headers=headers
            ).json()["id"]
            for n in range(3)
        ]
        first = client.get("/v1/jobs?limit=2", headers=headers).json()
        assert [j["id"] for j in first["data"]] == ids[::-1][:2]
        second = client.get(f"/v1/jobs?limit=2&cursor={first['next_cursor']}", headers=headers)
        assert [j["id"] for j in second.json()["data"]] == [ids[0]]
        assert second.json()["next_cursor"] is None
        for job_id in ids:
            wait_for_job(client, job_id, headers)


class TestPlan:
    def test_plan_forecasts_and_writes_nothing(self, client, headers):
        plan = client.post("/v1/jobs:plan", json={"storyboard": tiny_board()}, headers=headers)
        assert plan.status_code == 200
        body = plan.json()
        assert body["ok"] is True
        assert [s["shot_id"] for s in body["forecast"]["shots"]] == ["shot1", "shot2"]
        assert client.get("/v1/jobs", headers=headers).json()["data"] == []


class TestErrors:
    def test_storyboard_errors_list_every_problem_with_its_path(self, client, headers):
        board = tiny_board()
        board["scenes"][0]["shots"][0]["duration"] = 0
        board["scenes"][0]["shots"][1]["prompt"] = "  "
        board["colour"] = "red"
        answer = client.post("/v1/jobs", json={"storyboard": board}, headers=headers)
        assert answer.status_code == 422
        body = answer.json()
        assert body["error"] == "invalid_storyboard"
        assert body["retriable"] is False
        paths = {p["path"] for p in body["problems"]}
        assert paths == {
            "storyboard.scenes[0].shots[0].duration",
            "storyboard.scenes[0].shots[1].prompt",
            "storyboard.colour",
        }

    def test_error_shape_for_bad_json_and_bad_content_type(self, client, headers):
        bad = client.post(
            "/v1/jobs", content=b"{nope", headers={**headers, "content-type": "application/json"}
        )
        assert bad.status_code == 422
        assert set(bad.json()) == {
            "error",
            "detail",
            "job",
            "shot",
            "stage",
            "retriable",
            "problems",
        }
        other = client.post(
            "/v1/jobs", content=b"x", headers={**headers, "content-type": "text/csv"}
        )
        assert (other.status_code, other.json()["problems"][0]["path"]) == (422, "content-type")

    def test_unexpected_failure_is_a_bare_500_without_a_trace(self, client, headers, monkeypatch):
        from api import views

        def explode(*_args, **_kwargs):
            raise RuntimeError("secret internals at /srv/x.py line 3")

        monkeypatch.setattr(views, "list_jobs", explode)
        answer = client.get("/v1/jobs", headers=headers)
        assert answer.status_code == 500
        assert answer.json() == {
            "error": "internal",
            "detail": "an internal error occurred",
            "job": None,
            "shot": None,
            "stage": None,
            "retriable": True,
            "problems": None,
        }
        assert "Traceback" not in answer.text
        assert "secret internals" not in answer.text


class TestTenants:
    def test_another_tenants_job_is_a_404_everywhere(self, client, headers, other_headers):
        job_id = client.post(
            "/v1/jobs", json={"storyboard": tiny_board(1)}, headers=headers
        ).json()["id"]
        wait_for_job(client, job_id, headers)
        for path in ("", "/output", "/events", "/poster", "/webhooks", "/shots/shot1/asset"):
            answer = client.get(f"/v1/jobs/{job_id}{path}", headers=other_headers)
            assert answer.status_code == 404, path
            assert answer.json()["error"] == "not_found"
        assert client.post(f"/v1/jobs/{job_id}/cancel", headers=other_headers).status_code == 404
        assert client.get("/v1/jobs", headers=other_headers).json()["data"] == []
        assert client.get("/v1/costs", headers=other_headers).json()["jobs"] == 0
        assert client.get("/v1/costs", headers=headers).json()["jobs"] == 1


class TestCancel:
    def test_cancel_stops_a_running_job_and_a_finished_one_is_a_conflict(self, client, headers):
        board = tiny_board(shots=6)
        for shot in board["scenes"][0]["shots"]:
            shot["duration"] = 4
        job_id = client.post("/v1/jobs", json={"storyboard": board}, headers=headers).json()["id"]
        cancelled = client.post(f"/v1/jobs/{job_id}/cancel", headers=headers)
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        again = client.post(f"/v1/jobs/{job_id}/cancel", headers=headers)
        assert again.json()["status"] == "cancelled"

        done = client.post("/v1/jobs", json={"storyboard": tiny_board(1)}, headers=headers).json()
        wait_for_job(client, done["id"], headers)
        conflict = client.post(f"/v1/jobs/{done['id']}/cancel", headers=headers)
        assert conflict.status_code == 409
        assert conflict.json()["job"] == done["id"]


class TestCatalog:
    def test_models_list_lifecycle_and_prices(self, client, headers):
        models = client.get("/v1/models", headers=headers).json()["models"]
        local = next(m for m in models if m["id"] == "local/animatic")
        assert local["status"] == "active"
        assert any(m.get("price") or m.get("pricing") for m in models)
