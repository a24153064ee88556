"""``/v1/costs`` and ``/metrics`` over the API: grouping, windows, tenant scoping, validation, and
preview-then-commit end to end on the local renderer (quote, commit, both versions)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import tiny_board, wait_for_job


def _job(client, headers, mode="final", shots=2, tag=""):
    body = {"storyboard": tiny_board(shots, tag=tag), "mode": mode}
    created = client.post("/v1/jobs", json=body, headers=headers)
    assert created.status_code == 202, created.text
    return wait_for_job(client, created.json()["id"], headers)


class TestCosts:
    def test_groups_windows_and_scoping(self, client, headers, other_headers):
        job = _job(client, headers, tag=" costs")
        assert job["status"] == "delivered"
        report = client.get("/v1/costs?group_by=job", headers=headers).json()
        assert [g["key"] for g in report["groups"]] == [job["id"]]
        assert report["totals"]["attempts"] == 2
        assert report["totals"]["seconds_accepted"] == 2.0
        assert report["totals"]["acceptance_rate"] == 1.0
        assert report["jobs"] == 1
        by_model = client.get("/v1/costs", headers=headers).json()
        assert [g["key"] for g in by_model["groups"]] == ["local/animatic"]
        assert by_model["groups"][0]["cost_per_accepted_second"] == 0.0
        by_day = client.get("/v1/costs", params={"group_by": "day"}, headers=headers).json()
        assert len(by_day["groups"]) == 1
        later = client.get("/v1/costs", params={"from": "2999-01-01"}, headers=headers).json()
        assert later["totals"]["attempts"] == 0
        earlier = client.get("/v1/costs", params={"to": "2000-01-01T00:00:00"}, headers=headers)
        assert earlier.json()["groups"] == []
        other = client.get("/v1/costs?group_by=tenant", headers=other_headers).json()
        assert (other["tenant"], other["groups"], other["jobs"]) == ("globex", [], 0)

    def test_invalid_group_by_and_auth(self, client, headers):
        bad = client.get("/v1/costs?group_by=colour", headers=headers)
        assert bad.status_code == 422
        assert bad.json()["problems"][0]["path"] == "group_by"
        assert client.get("/v1/costs").status_code == 401
        assert client.get("/v1/dashboard").status_code == 401

    def test_metrics_are_prometheus_text_over_the_ledger(self, client, headers, operator_headers):
        _job(client, headers, shots=1, tag=" metrics")
        response = client.get("/metrics", headers=operator_headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(response.text)}
        spend = families["shotline_spend_usd"].samples
        assert [(s.labels["model"], s.value) for s in spend] == [("local/animatic", 0.0)]
        accepted = families["shotline_accepted_seconds"].samples
        assert accepted[0].value == 1.0
        assert "shotline_breaker_state" in families


class TestCommitOnLocal:
    def test_preview_quote_commit_versions(self, client, headers, other_headers):
        preview = _job(client, headers, mode="preview", shots=2, tag=" commit")
        assert (preview["status"], preview["mode"]) == ("delivered", "preview")
        quote = client.get(f"/v1/jobs/{preview['id']}/quote", headers=headers).json()
        assert [line["shot_id"] for line in quote["shots"]] == ["shot1", "shot2"]
        assert quote["fits"] is True
        one = client.get(
            f"/v1/jobs/{preview['id']}/quote", params={"shots": "shot2"}, headers=headers
        ).json()
        assert [line["shot_id"] for line in one["shots"]] == ["shot2"]
        assert (
            client.get(f"/v1/jobs/{preview['id']}/quote", headers=other_headers).status_code == 404
        )

        committed = client.post(
            f"/v1/jobs/{preview['id']}/commit", json={"shots": ["shot2"]}, headers=headers
        )
        assert committed.status_code == 202, committed.text
        body = committed.json()
        assert (body["shots"], body["kept"]) == (["shot2"], ["shot1"])
        assert committed.headers["location"] == f"/v1/jobs/{body['final_job_id']}"
        final = wait_for_job(client, body["final_job_id"], headers)
        assert (final["status"], final["mode"]) == ("delivered", "final")
        assert [s["attempts"] for s in final["shots"]] == [0, 1]

        both = client.get(f"/v1/jobs/{preview['id']}/versions", headers=headers).json()
        assert both["final_job_id"] == body["final_job_id"]
        assert [s["approved"] for s in both["shots"]] == [False, True]
        assert (
            client.get(f"/v1/jobs/{body['final_job_id']}/versions", headers=headers).json()[
                "preview_job_id"
            ]
            == preview["id"]
        )

        costs = client.get("/v1/costs", headers=headers).json()["preview"]
        assert (costs["previews"], costs["preview_shots"], costs["committed_shots"]) == (1, 2, 1)
        assert costs["conversion_rate"] == 0.5
        assert costs["agreement_scored"] == 1

    def test_commit_refusals(self, client, headers, other_headers):
        final = _job(client, headers, mode="final", shots=1, tag=" refuse")
        refused = client.post(f"/v1/jobs/{final['id']}/commit", headers=headers)
        assert (refused.status_code, refused.json()["error"]) == (409, "job_conflict")
        assert refused.json()["job"] == final["id"]
        preview = _job(client, headers, mode="preview", shots=1, tag=" refuse2")
        unknown = client.post(
            f"/v1/jobs/{preview['id']}/commit", json={"shots": ["zzz"]}, headers=headers
        )
        assert unknown.status_code == 422
        assert unknown.json()["problems"][0]["path"] == "shots[0]"
        other = client.post(f"/v1/jobs/{preview['id']}/commit", headers=other_headers)
        assert other.status_code == 404
        assert client.get(f"/v1/jobs/{preview['id']}/versions", headers=headers).status_code == 404
