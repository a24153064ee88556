"""Tenants never meet: the accepted-shot cache is per tenant unless the platform opts in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from api.app import create_app
from api.config import ApiSettings
from pipeline.context import RunContext
from pipeline.report import job_report
from store.db import session_scope
from store.models import Attempt, Shot
from tests.api.conftest import tiny_board, wait_for_job


def _render(client: Any, headers: dict[str, str], board: dict[str, Any]) -> dict[str, Any]:
    created = client.post("/v1/jobs", json={"storyboard": board}, headers=headers)
    assert created.status_code == 202, created.text
    job = wait_for_job(client, created.json()["id"], headers)
    assert job["status"] == "delivered", job["error"]
    return job


def _bill(ctx: RunContext, job_id: str, usd: float) -> None:
    """As if a hosted provider had billed each of the job's attempts ``usd``."""
    with session_scope(ctx.db_url) as session:
        rows = session.scalars(
            select(Attempt).join(Shot, Shot.id == Attempt.shot_id).where(Shot.job_id == job_id)
        )
        for attempt in rows:
            attempt.settled_usd = usd


def _assets(ctx: RunContext, job_id: str) -> list[str]:
    with session_scope(ctx.db_url) as session:
        rows = session.scalars(select(Shot.asset_path).where(Shot.job_id == job_id))
        return [str(path) for path in rows]


def _events(client: Any, job_id: str, headers: dict[str, str]) -> str:
    response = client.get(f"/v1/jobs/{job_id}/events", headers=headers)
    assert response.status_code == 200
    return str(response.text)


class TestShotCache:
    def test_another_tenant_renders_and_pays_for_its_own_shots(
        self, client, ctx, headers, other_headers
    ):
        board = tiny_board(tag=" (tenancy)")
        first = _render(client, headers, board)
        _bill(ctx, first["id"], 0.24)
        second = _render(client, other_headers, board)
        job_id = second["id"]

        events = _events(client, job_id, other_headers)
        assert "shot.cached" not in events
        assert [len(shot["attempt_log"]) for shot in second["shots"]] == [1, 1]
        assert all(shot["attempt_log"][0]["status"] == "accepted" for shot in second["shots"])
        own_dir = str(ctx.asset_dir(job_id))
        assert all(path.startswith(own_dir) for path in _assets(ctx, job_id))
        assert not set(_assets(ctx, job_id)) & set(_assets(ctx, first["id"]))

        plan = client.get(f"/v1/jobs/{job_id}/output/plan", headers=other_headers).text
        job_text = client.get(f"/v1/jobs/{job_id}", headers=other_headers).text
        for text in (events, plan, job_text):
            assert first["id"] not in text

    def test_the_same_tenant_still_reuses_its_own_shots(self, client, ctx, headers):
        board = tiny_board(tag=" (own cache)")
        first = _render(client, headers, board)
        _bill(ctx, first["id"], 0.24)
        again = _render(client, headers, board)
        assert _events(client, again["id"], headers).count("event: shot.cached") == 2
        assert [shot["attempt_log"] for shot in again["shots"]] == [[], []]

    def test_a_platform_can_opt_in_to_sharing_across_tenants(
        self, client, ctx, headers, other_headers, monkeypatch
    ):
        monkeypatch.setattr(ctx.settings, "share_shot_cache", True)
        board = tiny_board(tag=" (shared)")
        first = _render(client, headers, board)
        _bill(ctx, first["id"], 1.37)
        second = _render(client, other_headers, board)
        assert _events(client, second["id"], other_headers).count("event: shot.cached") == 2
        assert [shot["attempt_log"] for shot in second["shots"]] == [[], []]
        assert _assets(ctx, second["id"]) != _assets(ctx, first["id"])  # its own copies
        # the platform shares the clips, not what the other tenant paid for them: its saving is
        # its own quote for the shots (before, 1.37 a shot, the first tenant's bill)
        report = job_report(ctx.db_url, second["id"])
        quotes = [shot["route"]["candidates"][0]["quote_usd"] for shot in report["shots"]]
        assert sorted(report["reused"]["videos"]) == sorted(shot["id"] for shot in report["shots"])
        assert report["reused"]["saved_usd"] == pytest.approx(sum(quotes))
        assert report["reused"]["saved_usd"] != pytest.approx(2 * 1.37)

    @pytest.mark.parametrize("shared", [True, False], ids=["another-tenant", "same-tenant"])
    def test_a_reused_clip_outlives_the_video_it_was_made_for(
        self, client, ctx, headers, other_headers, monkeypatch, shared
    ):
        """A deletes its video; B's job (another tenant's with the shared cache, or A's own
        next one), which reused A's clip, still has it."""
        monkeypatch.setattr(ctx.settings, "share_shot_cache", shared)
        reuser = other_headers if shared else headers
        body = {"prompt": "a lighthouse in a storm (shared)", "seconds": "1", "size": "160x90"}
        first = client.post("/v1/videos", json=body, headers=headers).json()["id"]
        wait_for_job(client, first.removeprefix("video_"), headers)
        second = client.post("/v1/videos", json=body, headers=reuser).json()["id"]
        job_id = second.removeprefix("video_")
        assert wait_for_job(client, job_id, reuser)["status"] == "delivered"
        assert _events(client, job_id, reuser).count("event: shot.cached") == 1

        assert client.delete(f"/v1/videos/{first}", headers=headers).status_code == 200
        clip = client.get(f"/v1/jobs/{job_id}/shots/video/asset", headers=reuser)
        assert clip.status_code == 200, clip.text
        assert clip.content[4:8] == b"ftyp"
        content = client.get(f"/v1/videos/{second}/content", headers=reuser)
        assert content.status_code == 200, content.text


class TestMetrics:
    """``/metrics`` sums every tenant's spend: only the operator reads it."""

    def test_only_the_operator_token_reads_metrics(
        self, client, headers, other_headers, operator_headers
    ):
        _render(client, headers, tiny_board(shots=1, tag=" (metrics)"))
        for caller in ({}, {"Authorization": "Bearer wrong"}, headers, other_headers):
            response = client.get("/metrics", headers=caller)
            assert response.status_code == 401, caller
            assert "shotline_spend_usd" not in response.text
        allowed = client.get("/metrics", headers=operator_headers)
        assert allowed.status_code == 200
        names = {f.name for f in text_string_to_metric_families(allowed.text)}
        assert "shotline_spend_usd" in names

    def test_metrics_are_absent_without_an_operator_token(self, ctx, operator_headers):
        app = create_app(ctx, settings=ApiSettings())
        with TestClient(app, raise_server_exceptions=False) as plain:
            assert plain.get("/metrics").status_code == 404
            assert plain.get("/metrics", headers=operator_headers).status_code == 404


def test_sharing_is_off_unless_the_environment_turns_it_on(monkeypatch):
    from foundation.settings import Settings

    assert Settings().share_shot_cache is False
    monkeypatch.setenv("SHOTLINE_SHARE_SHOT_CACHE", "1")
    assert Settings().share_shot_cache is True


@pytest.fixture(autouse=True)
def _no_shared_cache_from_env(monkeypatch):
    monkeypatch.delenv("SHOTLINE_SHARE_SHOT_CACHE", raising=False)


class TestPlanReadsNoServerFile:
    """``POST /v1/jobs:plan`` must not read a path on the server's disk for a tenant, as
    ``POST /v1/jobs`` does not: else a tenant learns whether another tenant's file exists."""

    def test_another_tenants_reference_is_not_an_oracle(
        self, client, ctx, headers, other_headers, network
    ):
        from tests.api.test_security import DECODABLE_PNG

        network.routes["cdn.example.com"] = lambda r: httpx.Response(200, content=DECODABLE_PNG)
        board = tiny_board(1, tag=" (oracle)")
        board["scenes"][0]["shots"][0]["reference_image"] = "https://cdn.example.com/secret.png"
        _render(client, other_headers, board)
        [theirs] = (ctx.settings.assets / "references" / "globex").glob("*.png")
        answers = []
        for path in (str(theirs), str(theirs.with_name("0" * 32 + ".png"))):
            board["scenes"][0]["shots"][0]["reference_image"] = path
            answer = client.post("/v1/jobs:plan", json={"storyboard": board}, headers=headers)
            assert answer.status_code == 422, answer.text
            [problem] = answer.json()["problems"]
            assert problem["path"] == "storyboard.scenes[0].shots[0].reference_image"
            answers.append(problem["message"])
        assert answers[0] == answers[1]
        assert str(theirs) not in answers[0]
