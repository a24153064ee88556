"""The dashboard's JSON: ``/v1/dashboard/overview`` (filters by date, model, provider and tenant,
spend over time in buckets chosen by the range, waste by cause, jobs in flight, budgets) and
``/v1/dashboard/jobs/{id}`` with its thumbnails and clips; who may see what (a tenant's key its
own jobs, the operator's token every tenant's); and a CLI job (tenant ``local``) seen with a key
of tenant ``local``, in the JSON and on the page."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from api import auth
from ledger import tenants
from shotline.cli import app as cli
from store.db import session_scope
from store.models import Job
from tests.api.browser import Dom, browse
from tests.api.conftest import tiny_board, wait_for_job
from tests.api.test_dashboard import _seed
from tests.ledger.conftest import seed_attempt


def _overview(client, headers, **params):
    response = client.get("/v1/dashboard/overview", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _keys(groups):
    return {g["key"]: g for g in groups}


class TestOverview:
    def test_filters_narrow_every_figure(self, client, ctx, headers):
        _seed(ctx.db_url)
        every = _overview(client, headers)
        assert every["tenant"] == "acme"
        assert not every["operator"]
        assert every["totals"]["spend_usd"] == pytest.approx(5.372)
        assert every["choices"] == {
            "models": ["google/veo-3.1", "kling/v3-pro", "runway/gen4.5"],
            "providers": ["google", "kling", "runway"],
            "tenants": ["acme"],
        }
        kling = _overview(client, headers, model="kling/v3-pro")
        assert list(_keys(kling["by_model"])) == ["kling/v3-pro"]
        assert kling["totals"]["spend_usd"] == 0.56
        assert [j["id"] for j in kling["jobs"]] == ["jobB"]
        runway = _overview(client, headers, provider="runway")
        assert runway["totals"]["refused"] == 1
        assert runway["totals"]["refusal_rate"] == 1.0
        day1 = _overview(client, headers, **{"from": "2026-11-19", "to": "2026-11-20"})
        assert day1["totals"]["spend_usd"] == 3.2
        assert day1["totals"]["attempts"] == 2
        nothing = _overview(client, headers, model="luma/ray-2")
        assert (nothing["totals"]["attempts"], nothing["series"]) == (0, [])

    def test_buckets_follow_the_range_and_add_up(self, client, ctx, headers):
        _seed(ctx.db_url)
        hourly = _overview(client, headers)
        assert hourly["bucket"] == "hour"
        month = _overview(client, headers, **{"from": "2026-11-01", "to": "2026-12-01"})
        assert month["bucket"] == "day"
        assert len(month["series"]) == 30
        spent = {g["key"][:10]: g["spend_usd"] for g in month["series"] if g["spend_usd"]}
        assert spent == {"2026-11-19": 3.2, "2026-11-20": pytest.approx(2.172)}
        year = _overview(client, headers, **{"from": "2026-01-01", "to": "2027-01-01"})
        assert year["bucket"] == "week"
        assert year["series"][0]["key"] == "2025-12-29T00:00:00+00:00", "weeks start on Monday"
        forced = _overview(client, headers, bucket="day")
        assert [g["key"] for g in forced["series"]] == [
            "2026-11-19T00:00:00+00:00",
            "2026-11-20T00:00:00+00:00",
        ]
        for view in (hourly, month, year, forced):
            assert sum(g["spend_usd"] for g in view["series"]) == pytest.approx(5.372)
            assert sum(g["seconds_accepted"] for g in view["series"]) == 13.0
        bad = client.get("/v1/dashboard/overview", params={"bucket": "minute"}, headers=headers)
        assert bad.status_code == 422
        assert bad.json()["problems"][0]["path"] == "bucket"

    def test_waste_by_cause_adds_up_to_the_waste(self, client, ctx, headers):
        _seed(ctx.db_url)
        seed_attempt(
            ctx.db_url,
            job="jobB",
            shot="d",
            settled_usd=0.4,
            verdict="failed",
            error_kind="timeout",
            seconds_requested=4.0,
        )
        data = _overview(client, headers)
        causes = {g["key"]: (g["attempts"], g["waste_usd"]) for g in data["waste_by_cause"]}
        assert causes == {"frozen": (1, 1.6), "timeout": (1, 0.4), "safety_refusal": (1, 0.0)}
        assert next(g["key"] for g in data["waste_by_cause"]) == "frozen", "largest first"
        total = sum(w for _, w in causes.values())
        assert total == pytest.approx(data["totals"]["waste_usd"])

    def test_in_flight_and_budgets(self, client, ctx, headers):
        seed_attempt(ctx.db_url, job="busy", settled_usd=1.0, verdict="accepted")
        seed_attempt(ctx.db_url, job="done", settled_usd=0.5, verdict="accepted")
        seed_attempt(
            ctx.db_url, job="busy", shot="h", reserved_usd=2.5, settled_usd=None, verdict="pending"
        )
        with session_scope(ctx.db_url) as session:
            busy = session.get_one(Job, "busy")
            busy.status, busy.stage = "running", "rendering"
            busy.budget_usd, busy.spent_usd, busy.reserved_usd = 10.0, 1.0, 2.5
            session.get_one(Job, "done").status = "delivered"
            tenants.set_budget(session, "acme", 25.0)  # after the spend: it counts
            tenants.set_budget(session, "globex", 99.0)
        data = _overview(client, headers)
        assert [(j["id"], j["headroom_usd"], j["reserved_usd"]) for j in data["in_flight"]] == [
            ("busy", 6.5, 2.5)
        ]
        assert data["in_flight"][0]["spend_usd"] == 1.0
        assert data["budgets"] == [
            {
                "tenant": "acme",
                "budget_usd": 25.0,
                "reserved_usd": 2.5,
                "spent_usd": 1.5,  # the ledger's settled attempts (1.0 + 0.5): one definition
                "headroom_usd": 21.0,
                "emulated_usd": 0.0,
            }
        ]
        assert {j["id"] for j in data["jobs"]} == {"busy", "done"}


class TestWhoSeesWhat:
    def test_a_key_sees_its_tenant_the_operator_every_tenant(
        self, client, ctx, headers, other_headers, operator_headers
    ):
        _seed(ctx.db_url)
        refused = client.get("/v1/dashboard/overview?tenant=globex", headers=headers)
        assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
        assert "acme" in refused.json()["detail"]
        assert _overview(client, headers, tenant="acme")["totals"]["spend_usd"] == 5.372
        globex = _overview(client, other_headers)
        assert [j["id"] for j in globex["jobs"]] == ["jobZ"]
        every = _overview(client, operator_headers)
        assert (every["operator"], every["tenant"]) == (True, None)
        assert every["totals"]["spend_usd"] == pytest.approx(55.372)
        assert every["choices"]["tenants"] == ["acme", "globex"]
        only = _overview(client, operator_headers, tenant="globex")
        assert only["totals"]["spend_usd"] == 50.0
        assert client.get("/v1/dashboard/jobs/jobZ", headers=headers).status_code == 404
        assert client.get("/v1/dashboard/jobs/jobZ", headers=other_headers).status_code == 200
        assert client.get("/v1/dashboard/jobs/jobA", headers=operator_headers).status_code == 200
        assert client.get("/v1/dashboard/overview").status_code == 401
        wrong = {"Authorization": "Bearer not-the-operator"}
        assert client.get("/v1/dashboard/overview", headers=wrong).status_code == 401


class TestDrillDown:
    def test_a_job_its_shots_attempts_thumbnails_and_clips(self, client, headers, other_headers):
        body = {"storyboard": tiny_board(2, tag=" drill"), "mode": "final"}
        job = wait_for_job(
            client, client.post("/v1/jobs", json=body, headers=headers).json()["id"], headers
        )
        assert job["status"] == "delivered"
        detail = client.get(f"/v1/dashboard/jobs/{job['id']}", headers=headers).json()
        assert [s["id"] for s in detail["shots"]] == ["shot1", "shot2"]
        assert detail["shots"][0]["prompt"] == "a red kite over a beach drill"
        assert detail["totals"]["seconds_accepted"] == 2.0
        shot = detail["shots"][0]
        (attempt,) = shot["attempts"]
        assert (attempt["status"], attempt["action"], attempt["model"]) == (
            "accepted",
            "accept",
            "local/animatic",
        )
        # the animatic draws the shot id and prompt, which a final render's gate flags (a warning)
        assert attempt["findings"] == job["shots"][0]["findings"]
        assert [(f["code"], f["severity"]) for f in attempt["findings"]] == [
            ("unexpected_text", "warning")
        ]
        clip = client.get(attempt["clip_url"], headers=headers)
        assert clip.headers["content-type"] == "video/mp4"
        asset = client.get(shot["clip_url"], headers=headers)
        assert clip.content == asset.content
        for url in (attempt["thumb_url"], shot["thumb_url"]):
            thumb = client.get(url, headers=headers)
            assert thumb.headers["content-type"] == "image/jpeg"
            # cached by the browser for its key only: another key in the same browser asks again
            assert thumb.headers["vary"] == "Authorization"
            image = cv2.imdecode(np.frombuffer(thumb.content, np.uint8), cv2.IMREAD_COLOR)
            assert image is not None
            assert image.shape == (180, 320, 3), "320 wide, the clip's 16:9"
        ranged = client.get(attempt["clip_url"], headers=headers | {"Range": "bytes=0-99"})
        assert (ranged.status_code, len(ranged.content)) == (206, 100)
        base = f"/v1/jobs/{job['id']}"
        assert client.get(f"{base}/attempts/999999/clip", headers=headers).status_code == 404
        assert client.get(f"{base}/shots/nope/thumb", headers=headers).status_code == 404
        assert client.get(attempt["clip_url"], headers=other_headers).status_code == 404
        assert client.get(shot["thumb_url"], headers=other_headers).status_code == 404

    def test_an_attempt_without_a_clip_says_so(self, client, ctx, headers):
        _seed(ctx.db_url)
        detail = client.get("/v1/dashboard/jobs/jobB", headers=headers).json()
        refused = next(s for s in detail["shots"] if s["id"] == "c")["attempts"][0]
        assert (refused["clip_url"], refused["thumb_url"]) == (None, None)
        missing = client.get(f"/v1/jobs/jobB/attempts/{refused['id']}/clip", headers=headers)
        assert missing.status_code == 404
        assert missing.json()["detail"] == f"attempt {refused['id']} has no clip"


def test_cli_jobs_show_for_a_key_of_tenant_local(client, live_url, chromium, tmp_path):
    """``shotline render`` files its jobs under tenant ``local``; ``shotline keys create --tenant
    local`` gives the key that shows them on the dashboard."""
    board = tmp_path / "board.yaml"
    board.write_text(
        "title: from the CLI\noutput: {size: 160x90}\nscenes:\n  - id: s\n    shots:\n"
        "      - {id: one, prompt: a lighthouse at dusk, duration: 1}\n"
    )
    runner = CliRunner()
    done = runner.invoke(
        cli, ["render", str(board), "-o", str(tmp_path / "cli.mp4"), "--providers", "local"]
    )
    assert done.exit_code == 0, done.output
    made = runner.invoke(cli, ["keys", "create", "--tenant", "local"])
    assert made.exit_code == 0, made.output
    key = made.stdout.split()[-1]
    local = {"Authorization": f"Bearer {key}"}
    data = _overview(client, local)
    assert data["tenant"] == "local"
    (row,) = data["jobs"]
    assert (row["title"], row["tenant"], row["status"]) == ("from the CLI", "local", "delivered")
    detail = client.get(f"/v1/dashboard/jobs/{row['id']}", headers=local).json()
    assert [s["id"] for s in detail["shots"]] == ["one"]
    assert client.get(detail["shots"][0]["thumb_url"], headers=local).status_code == 200
    other = auth.create_key(client.app.state.api.db_url, "acme")
    assert _overview(client, {"Authorization": f"Bearer {other}"})["jobs"] == []

    dom = Dom()
    dom.feed(browse(chromium, f"{live_url}/dashboard#key={key}", "--dump-dom"))
    assert dom.find(tag="body")[0]["data-state"] == "ready"
    assert [n["data-job"] for n in dom.find(tag="tr") if n.get("data-job")] == [row["id"]]
